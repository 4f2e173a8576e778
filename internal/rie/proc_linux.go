package rie

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the emulator in a process group of its own, so that
// stopping it reaches the bootstrap it starts, and kills it with the test
// binary even when a test timeout panics past the cleanups.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) { _ = syscall.Kill(-cmd.Process.Pid, sig) }
