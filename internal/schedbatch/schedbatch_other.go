//go:build !linux

package schedbatch

// Apply returns ErrUnsupported outside Linux.
func Apply() (int, error) { return 0, ErrUnsupported }

// Policy returns ErrUnsupported outside Linux.
func Policy(int) (int, error) { return 0, ErrUnsupported }

// ApplySysmon returns ErrUnsupported outside Linux.
func ApplySysmon() (int, error) { return 0, ErrUnsupported }
