package rusage

import (
	"os"
	"syscall"
)

// sysProcAttr kills the command when the helper dies (the bench cancelled it), rather than leaving it
// running unwaited.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// maxRSS reads ru_maxrss, in kilobytes on Linux.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}
