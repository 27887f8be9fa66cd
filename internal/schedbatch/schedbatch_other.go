//go:build !linux

package schedbatch

// policyBatch is Linux's SCHED_BATCH; Policy fails outside Linux.
const policyBatch = 3

// Apply returns ErrUnsupported outside Linux.
func Apply() (int, error) { return 0, ErrUnsupported }

// Policy returns ErrUnsupported outside Linux.
func Policy(int) (int, error) { return 0, ErrUnsupported }

// ApplySysmon returns ErrUnsupported outside Linux.
func ApplySysmon() (int, error) { return 0, ErrUnsupported }

// Reset returns ErrUnsupported outside Linux.
func Reset() (int, error) { return 0, ErrUnsupported }

// ResetExcept returns ErrUnsupported outside Linux.
func ResetExcept(int) (int, error) { return 0, ErrUnsupported }
