package awsfront

import "syscall"

// childProcAttr keeps a child in our process group and kills it when we die.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
