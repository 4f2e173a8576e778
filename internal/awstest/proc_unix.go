//go:build unix

package awstest

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in a process group of its own, so that stopping it reaches any
// process it starts, and adds a parent-death signal where the OS supports one.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

func terminateGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
