//go:build !linux

package rie

import (
	"os/exec"
	"syscall"
)

func setProcAttrs(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, _ syscall.Signal) { _ = cmd.Process.Kill() }
