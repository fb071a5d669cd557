//go:build !linux

package awsfront

import "syscall"

// childProcAttr keeps a child in our process group; only Linux can tie its life to ours.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
