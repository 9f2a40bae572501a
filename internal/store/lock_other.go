//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"errors"
	"os"
)

var errNoFlock = errors.New("run lock not supported on this system (flock is needed)")

func tryLock(f *os.File) (bool, error) { return false, errNoFlock }

func unlock(f *os.File) error { return errNoFlock }
