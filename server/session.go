package server

import (
	"log/slog"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/internal/engine"
)

// Session is one connection as handlers see it: an RTMP connection, or an
// HTTP connection playing over HTTP-FLV or WebSocket-FLV. Its methods are for
// the hooks, which run on the connection's event loop (loop-only), except
// Close, which is safe from any goroutine. A Session must not be used after
// its Handler.OnClose returns.
type Session struct {
	s    *engine.Session
	last *Decision // the decision the running hook deferred, if any
}

// handleOf returns the public handle of a session.
func handleOf(s *engine.Session) *Session { return s.Handle.(*Session) }

// ID returns a process-unique connection id. Any goroutine.
func (s *Session) ID() uint64 { return s.s.ID }

// RemoteAddr returns the peer address. Any goroutine.
func (s *Session) RemoteAddr() string { return s.s.Conn.RemoteAddr() }

// App returns the app name from connect (or the play's URL). Loop-only.
func (s *Session) App() string { return s.s.AppName }

// Connect returns the connect request (its Object is not retained). Loop-only.
func (s *Session) Connect() ConnectRequest {
	c := ConnectRequest(s.s.Connect)
	c.Object = amf0.Value{}
	return c
}

// Set stores a value on the session for handlers. Loop-only.
func (s *Session) Set(key string, v any) { s.s.Set(key, v) }

// Get returns a value stored with Set. Loop-only.
func (s *Session) Get(key string) any { return s.s.Get(key) }

// Close closes the connection. Any goroutine.
func (s *Session) Close() error { return s.s.Conn.Close() }

// Logger returns the session's logger (with conn id and peer address). Any
// goroutine.
func (s *Session) Logger() *slog.Logger { return s.s.Log }

// Call is a custom command invocation (see App.HandleCommand). It is valid
// only during the command's function, on the connection's event loop.
type Call struct {
	Session       *Session
	Name          string
	TransactionID float64
	StreamID      uint32
	c             *engine.Call
}

// Object returns the command object (often null). Valid during the handler only.
func (c *Call) Object() amf0.Value { return c.c.Doc.At(2) }

// NumArgs returns the number of arguments after the command object.
func (c *Call) NumArgs() int {
	if n := c.c.Doc.Len() - 3; n > 0 {
		return n
	}
	return 0
}

// Arg returns argument i (after the command object). Valid during the handler only.
func (c *Call) Arg(i int) amf0.Value { return c.c.Doc.At(3 + i) }

// Reply sets the _result values: nil, bool, string, numbers, and
// map[string]any (encoded as an object) are supported.
func (c *Call) Reply(values ...any) error { return c.c.SetReply(values...) }
