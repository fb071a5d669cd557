@echo off
rem kubectl (1.26 and newer) runs this for "kubectl sdc <TAB>" on Windows: it must answer in cobra's
rem __complete format. The plugin next to this file is preferred; kubectl-sdc.exe on PATH is the fallback.
if exist "%~dp0kubectl-sdc.exe" (
  "%~dp0kubectl-sdc.exe" __complete %*
) else (
  kubectl-sdc.exe __complete %*
)
