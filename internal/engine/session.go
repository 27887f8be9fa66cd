package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
)

// Session is what every connection has, RTMP or HTTP: its identity, the app
// it joined, the values handlers store, and its share of the budgets. The
// protocol sessions embed it; handlers reach it through the server's handle.
// Loop-only unless a method says otherwise.
type Session struct {
	Shared *Shared
	Conn   netpoll.Conn
	Loop   *Loop // the connection's loop scratch
	Log    *slog.Logger
	// ID, Kind and Created are set by Init and immutable after: any
	// goroutine may read them.
	ID      uint64
	Kind    int // listener kind, for the connection budget's release
	Created time.Time
	// Names are the stream names this connection brought into the registry.
	Names registry.NameBudget
	// Reads counts OnData calls: the idle clock (see IdleClock).
	Reads uint64
	// BytesIn counts the bytes read from the peer (any goroutine may read it).
	BytesIn atomic.Uint64

	App     *App // set by connect (RTMP) or the play route (HTTP)
	AppName string
	Connect ConnectRequest // Object cleared after OnConnect

	// Closed is set when the connection is gone (OnClose); loop tasks from
	// other goroutines check it.
	Closed bool
	// WSCloseSent records that a WebSocket close frame went out: the peer's
	// close that answers it is not echoed (RFC 6455 section 5.5.1).
	WSCloseSent bool

	// Handle is the server's public handle for this session, which hooks
	// receive.
	Handle any

	deferred *Decision // set by Defer during a hook
	pending  *Decision // the step held for a decision

	// activity is what the session does (activity.go): stored on the loop,
	// read by the admin API from any goroutine.
	activity  atomic.Pointer[Activity]
	announced bool // loop-only: the publish's media was logged (AnnounceMedia)

	values map[string]any
}

// Init sets up the base of a new connection accepted by a listener of kind.
func (s *Session) Init(sh *Shared, c netpoll.Conn, kind int) {
	// The wall clock, not the loop's cached tick time: a loop that has never
	// served a connection has not ticked yet, and its cached time (server
	// start) made the first connection on it time out at once.
	now := time.Now()
	s.Shared, s.Conn, s.Kind, s.Created = sh, c, kind, now
	s.Loop = sh.Loops[c.Loop().Index()]
	s.ID = sh.NextID()
	s.Names = registry.NameBudget{Max: sh.Limits.MaxNamesPerConn}
	s.Log = sh.Log.With("conn", s.ID, "peer", c.RemoteAddr())
	sh.track(s)
}

// Hooks returns the hooks of the session's app (AcceptAll before it has one).
func (s *Session) Hooks() Hooks {
	if s.App == nil || s.App.Hooks == nil {
		return AcceptAll{}
	}
	return s.App.Hooks
}

// Verdict is the outcome of Authorize.
type Verdict struct {
	Refused error     // the hook's refusal
	BadName bool      // the name the hook left is not one the server accepts
	Pending *Decision // the hook deferred: hold the step (Hold) until it resolves
}

// Authorize runs the app's OnPublish (publish) or OnPlay hook for req, which
// may rewrite the name, then checks the name the hook left (recorder.ValidName:
// one path element, no climbing). Each protocol answers a refusal in its own
// words, and holds the step of a pending verdict. Loop-only.
func (s *Session) Authorize(req *StreamRequest, publish bool) Verdict {
	var err error
	if publish {
		err = s.Hooks().OnPublish(s, req)
	} else {
		err = s.Hooks().OnPlay(s, req)
	}
	return s.verdict(err, req)
}

// AuthorizeConnect runs the app's OnConnect hook (loop-only).
func (s *Session) AuthorizeConnect(req *ConnectRequest) Verdict {
	return s.verdict(s.Hooks().OnConnect(s, req), nil)
}

func (s *Session) verdict(err error, req *StreamRequest) Verdict {
	d := s.takeDeferred()
	switch {
	case errors.Is(err, ErrPending) && d != nil:
		return Verdict{Pending: d}
	case errors.Is(err, ErrPending):
		return Verdict{Refused: errors.New("server: hook returned ErrPending without Defer")}
	case err != nil:
		return Verdict{Refused: err}
	}
	return Verdict{BadName: req != nil && !recorder.ValidName(req.Name)}
}

// BytesOut returns the bytes sent to the peer so far (accepted by its
// connection, written or queued), when the transport counts them (both of
// netpoll's do), else 0. Any goroutine.
func (s *Session) BytesOut() uint64 {
	if c, ok := s.Conn.(interface{ BytesSent() uint64 }); ok {
		return c.BytesSent()
	}
	return 0
}

// FirstFrameHook returns the fanout subscriber option that reports a play's
// time to first frame (measured from started) to Shared.FirstFrame, or nil
// when nothing observes it.
func (s *Session) FirstFrameHook(protocol string, started time.Time) func() {
	f := s.Shared.FirstFrame
	if f == nil || started.IsZero() {
		return nil
	}
	return func() { f(protocol, time.Since(started)) }
}

// Set stores a value for handlers.
func (s *Session) Set(key string, v any) {
	if s.values == nil {
		s.values = map[string]any{}
	}
	s.values[key] = v
}

// Get returns a value stored with Set.
func (s *Session) Get(key string) any { return s.values[key] }

// CloseWith closes the connection; reason is for the log. Any goroutine.
func (s *Session) CloseWith(reason error) {
	s.Log.Info("closing", "reason", reason)
	_ = s.Conn.Close()
}

// ReleaseSlot returns the connection's slot in the server's budgets and
// takes it out of the open sessions (once, from OnClose).
func (s *Session) ReleaseSlot() {
	s.Shared.untrack(s)
	if s.Shared.Release != nil {
		s.Shared.Release(s.Kind, s.Conn.RemoteAddr())
	}
}

// CheckBacklog enforces the connection's outbound budget after the session
// wrote: MaxControlBacklog for a connection that only gets replies (a peer
// that sends commands and never reads is cut off there, not after
// gigabytes), the fanout's hard cap for one that plays.
func (s *Session) CheckBacklog(playing bool) error {
	n := s.Conn.OutboundBuffered()
	l := &s.Shared.Limits
	if n <= l.MaxControlBacklog || (playing && n <= l.Fanout.HardCap) {
		return nil
	}
	return fmt.Errorf("%w: %d bytes queued", ErrOutboundFull, n)
}

// IsPeerGone reports whether err is the peer hanging up (logged quietly).
func IsPeerGone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
}
