package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Deferred decisions: a hook (connect, publish, play) that cannot answer on
// the event loop (an HTTP callback, a database) calls Session.Defer, returns
// ErrPending, and resolves the Decision later from any goroutine. The
// protocol session holds the step (and, for RTMP, the bytes that follow it)
// until then, or until the decision's deadline refuses it.

// Errors of deferred decisions.
var (
	ErrPending         = errors.New("server: decision pending")
	ErrDecisionTimeout = errors.New("server: no decision in time")
)

// DefaultDecisionTimeout bounds a deferred decision whose hook gave none.
const DefaultDecisionTimeout = 5 * time.Second

// Decision is a deferred answer to one step of one session.
type Decision struct {
	s        *Session
	deadline time.Time   // loop-only
	done     atomic.Bool // the first Resolve (or the deadline) wins
	// resume applies the answer on the loop; set by the protocol session
	// when the hook returned ErrPending.
	resume func(refused error, rename string)
}

// Defer starts a deferred decision for the step the session's hook is
// running (loop-only, from a hook, which then returns ErrPending). timeout
// <= 0 means DefaultDecisionTimeout.
func (s *Session) Defer(timeout time.Duration) *Decision {
	if timeout <= 0 {
		timeout = DefaultDecisionTimeout
	}
	d := &Decision{s: s, deadline: time.Now().Add(timeout)}
	s.deferred = d
	return d
}

// takeDeferred returns the decision the last hook deferred, if any.
func (s *Session) takeDeferred() *Decision {
	d := s.deferred
	s.deferred = nil
	return d
}

// Pending returns the step waiting for a decision, or nil (loop-only).
func (s *Session) Pending() *Decision { return s.pending }

// Hold parks d's step: resume runs on the loop with the answer (loop-only).
func (s *Session) Hold(d *Decision, resume func(refused error, rename string)) {
	d.resume = resume
	s.pending = d
}

// Resolve answers the decision: refused nil accepts (rename, if not empty,
// replaces the stream name), anything else refuses with its text. The first
// answer wins; later ones, and answers after the connection closed, do
// nothing. Any goroutine.
func (d *Decision) Resolve(refused error, rename string) {
	if d.done.Swap(true) {
		return
	}
	_ = d.s.Conn.Loop().Execute(decisionTask{d, refused, rename})
}

// CheckDeadline refuses a pending step whose deadline has passed (loop-only,
// from OnTick).
func (s *Session) CheckDeadline(now time.Time) {
	d := s.pending
	if d == nil || now.Before(d.deadline) || d.done.Swap(true) {
		return
	}
	s.pending = nil
	d.resume(ErrDecisionTimeout, "")
}

type decisionTask struct {
	d       *Decision
	refused error
	rename  string
}

func (t decisionTask) Run(context.Context) error {
	s := t.d.s
	if s.Closed || s.pending != t.d {
		return nil
	}
	s.pending = nil
	t.d.resume(t.refused, t.rename)
	return nil
}
