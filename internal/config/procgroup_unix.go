//go:build unix

package config

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup makes a timed-out secret command take its children with
// it (a shell's sleep, a password manager's agent), instead of leaving
// them running and holding the output pipe.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
