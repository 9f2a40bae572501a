//go:build !unix

package config

import "os/exec"

func ownProcessGroup(cmd *exec.Cmd) {}
