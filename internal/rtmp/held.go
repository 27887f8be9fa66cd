package rtmp

import (
	"context"
	"fmt"

	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
)

// Steps held for a deferred decision (engine.Session.Defer), and loop tasks
// from other goroutines.

// RecordAsync starts recording st, which s publishes, on s's loop shortly
// after the call; a failure to create the file is logged there. Any
// goroutine.
func (s *Session) RecordAsync(st *registry.Stream) error {
	return s.Conn.Loop().Execute(taskFunc(func() {
		if !s.Closed && s.Shared.Reg.IsPublisher(st, s) {
			_ = s.startRecording(st) // errors are logged there
		}
	}))
}

// taskFunc runs a function as a loop task.
type taskFunc func()

func (f taskFunc) Run(context.Context) error { f(); return nil }

// maxHeldBytes bounds what a client may send while one of its steps waits
// for a deferred decision: a publisher that starts its media at once is
// held a few seconds of it, not more. It bounds the held buffer's capacity,
// the memory really held, not only the bytes in it.
const maxHeldBytes = 4 << 20

// hold keeps p until the pending decision resolves.
func (s *Session) hold(p []byte) error {
	n := len(s.held) + len(p)
	if n > maxHeldBytes {
		return fmt.Errorf("%w: over %d bytes sent while a decision was pending", engine.ErrProtocol, maxHeldBytes)
	}
	if n > cap(s.held) {
		// Grow by doubling as append would, but never past the budget
		// (append's own growth could reach a quarter more).
		held := make([]byte, len(s.held), min(max(n, 2*cap(s.held)), maxHeldBytes))
		copy(held, s.held)
		s.held = held
	}
	s.held = append(s.held, p...)
	return nil
}

// resumeWith runs a held step's continuation once its decision came (a loop
// task), writes what it produced, then reads the bytes held since; a reason
// to close closes the connection (loop-only).
func (s *Session) resumeWith(fn func(out *[]byte)) {
	out := &s.Loop.Out
	*out = (*out)[:0]
	fn(out)
	var err error
	if s.closeErr == nil && s.Pending() == nil && len(s.held) > 0 {
		held := s.held
		s.held = nil
		err = s.feed(held, out)
	}
	if err = s.flush(out, err); err != nil {
		s.closeErr = err
		_ = s.Conn.Close()
	}
}
