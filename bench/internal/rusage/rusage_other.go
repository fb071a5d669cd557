//go:build !linux && !darwin

package rusage

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// maxRSS is not measured here.
func maxRSS(*os.ProcessState) int64 { return 0 }
