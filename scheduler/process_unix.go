//go:build unix

package scheduler

import (
	"errors"
	"syscall"
)

// processGone reports whether no process with this pid exists on this
// host. A pid that was reused by another process counts as alive: the
// lease then expires as usual.
func processGone(pid int) bool {
	if pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
