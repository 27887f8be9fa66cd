package server

import (
	"errors"
	"sync"
	"time"

	"github.com/quaverlive/quaver/internal/engine"
)

// ErrPending is what OnConnect, OnPublish or OnPlay return after
// Session.Defer: the step waits for the Decision.
var ErrPending = engine.ErrPending

// ErrDecisionTimeout is the refusal of a deferred step nobody decided in time.
var ErrDecisionTimeout = engine.ErrDecisionTimeout

// Decision is a deferred answer to a connect, publish or play (see
// Session.Defer). Its methods are safe from any goroutine, event loops
// included; the first answer wins and later ones do nothing.
type Decision struct {
	d *engine.Decision

	mu       sync.Mutex
	answered bool
	refused  error
	rename   string
	then     func(refused error, rename string) // set by the server to chain its HTTP hook
}

// Defer lets the hook that is running (OnConnect, OnPublish or OnPlay)
// decide later, off the event loop: call it, return ErrPending, and answer
// the returned Decision from any goroutine within timeout (<= 0: 5 s). The
// step waits, and so do the bytes the client sends after it (an RTMP
// publisher's first media); no answer in time refuses it with
// ErrDecisionTimeout. Loop-only: call it from the hook.
func (s *Session) Defer(timeout time.Duration) *Decision {
	d := &Decision{d: s.s.Defer(timeout)}
	s.last = d
	return d
}

// Accept lets the step go on.
func (d *Decision) Accept() { d.answer(nil, "") }

// Reject refuses the step; the client sees reason.
func (d *Decision) Reject(reason string) { d.answer(&RejectError{Reason: reason}, "") }

// Rewrite accepts a publish or play under another stream name (checked as
// any name is).
func (d *Decision) Rewrite(name string) { d.answer(nil, name) }

func (d *Decision) answer(refused error, rename string) {
	d.mu.Lock()
	if d.answered {
		d.mu.Unlock()
		return
	}
	d.answered, d.refused, d.rename = true, refused, rename
	then := d.then
	d.mu.Unlock()
	if then != nil && refused == nil {
		then(nil, rename)
		return
	}
	d.d.Resolve(refused, rename)
}

// chain makes an accepting answer run then instead of resolving at once
// (the server's HTTP hook after the application's own decision). then runs
// on the answering goroutine, or at once if the answer came already.
func (d *Decision) chain(then func(refused error, rename string)) {
	d.mu.Lock()
	if !d.answered {
		d.then = then
		d.mu.Unlock()
		return
	}
	refused, rename := d.refused, d.rename
	d.mu.Unlock()
	if refused == nil {
		then(nil, rename)
	}
}

// isPending reports whether a hook's error defers its step.
func isPending(err error) bool { return errors.Is(err, ErrPending) }
