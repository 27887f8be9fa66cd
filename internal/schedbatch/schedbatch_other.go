//go:build !linux

package schedbatch

import "errors"

// ErrUnsupported: SCHED_BATCH exists on Linux only.
var ErrUnsupported = errors.New("schedbatch: SCHED_BATCH is Linux-only")

// Apply returns ErrUnsupported outside Linux.
func Apply() (int, error) { return 0, ErrUnsupported }

// Policy returns ErrUnsupported outside Linux.
func Policy(int) (int, error) { return 0, ErrUnsupported }
