package engine

import (
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
)

// App is one application's policy as the sessions apply it. The server
// builds it from its public App when it starts; it is immutable after.
type App struct {
	Name  string
	Hooks Hooks
	// GOPCache lets joining players start from the last keyframe.
	GOPCache bool
	// Replace lets a second publisher take over a live stream.
	Replace bool
	// PublisherIdle drops a publisher that sends no media this long.
	PublisherIdle time.Duration
	// Record records every publish unless OnPublish says otherwise.
	Record bool
	// VOD plays the app's recordings to players of names nobody publishes.
	VOD bool
}

// StreamOptions are the fanout options of the app's streams.
func (a *App) StreamOptions() fanout.StreamOptions {
	return fanout.StreamOptions{GOPCache: a.GOPCache}
}

// Hooks is an application's life cycle as the sessions call it, on the
// connection's event loop. Errors reject the step; the client sees the text.
type Hooks interface {
	OnConnect(s *Session, req *ConnectRequest) error
	OnPublish(s *Session, req *StreamRequest) error
	OnPlay(s *Session, req *StreamRequest) error
	OnUnpublish(s *Session, req *StreamRequest)
	// OnPublished runs when a publish is on air, with its fanout stream (to
	// subscribe forwarders on the session's loop).
	OnPublished(s *Session, req *StreamRequest, st *fanout.Stream)
	// OnPlayDone runs when a play that started ends (live or recorded).
	OnPlayDone(s *Session, req *StreamRequest)
	OnClose(s *Session)
	// Command runs the app's custom command c.Name; handled is false when the
	// app has none of that name.
	Command(s *Session, c *Call) (handled bool, err error)
	// Message runs the app's function for a custom message type; handled is
	// false when it has none. A non-nil error closes the connection.
	Message(s *Session, m *chunkcodec.Message) (handled bool, err error)
}

// AcceptAll is Hooks that accept everything and know no custom command or
// message.
type AcceptAll struct{}

// OnConnect accepts.
func (AcceptAll) OnConnect(*Session, *ConnectRequest) error { return nil }

// OnPublish accepts.
func (AcceptAll) OnPublish(*Session, *StreamRequest) error { return nil }

// OnPlay accepts.
func (AcceptAll) OnPlay(*Session, *StreamRequest) error { return nil }

// OnUnpublish does nothing.
func (AcceptAll) OnUnpublish(*Session, *StreamRequest) {}

// OnPublished does nothing.
func (AcceptAll) OnPublished(*Session, *StreamRequest, *fanout.Stream) {}

// OnPlayDone does nothing.
func (AcceptAll) OnPlayDone(*Session, *StreamRequest) {}

// OnClose does nothing.
func (AcceptAll) OnClose(*Session) {}

// Command knows no command.
func (AcceptAll) Command(*Session, *Call) (bool, error) { return false, nil }

// Message knows no message type.
func (AcceptAll) Message(*Session, *chunkcodec.Message) (bool, error) { return false, nil }

// ConnectRequest describes a connect command. Its fields match
// server.ConnectRequest exactly, so the server converts between the two.
type ConnectRequest struct {
	App      string
	Query    string
	TCURL    string
	FlashVer string
	PageURL  string
	Object   amf0.Value // valid only during OnConnect
}

// StreamRequest describes a publish or play. Its fields match
// server.StreamRequest exactly, so the server converts between the two.
type StreamRequest struct {
	App     string
	Name    string
	Query   string
	Type    string
	Record  bool
	Started time.Time
}

// Call is a custom command invocation (loop-only, valid during the hook).
type Call struct {
	Name          string
	TransactionID float64
	StreamID      uint32
	Doc           *amf0.Document // the command: name, transaction id, object, arguments

	pool    *bytebufferpool.Pool
	buf     *bytebufferpool.ByteBuffer
	reply   []byte
	replied bool
}

// SetReply encodes the _result values (see amf0.AppendAny).
func (c *Call) SetReply(values ...any) error {
	if c.buf == nil {
		c.buf = c.pool.Get()
	}
	b := c.buf.B[:0]
	for _, v := range values {
		var err error
		if b, err = amf0.AppendAny(b, v); err != nil {
			return err
		}
	}
	c.buf.B = b
	c.reply, c.replied = b, true
	return nil
}

// Reply returns the encoded reply values and whether SetReply was called.
func (c *Call) Reply() ([]byte, bool) { return c.reply, c.replied }

// NewCall starts a call whose reply scratch comes from pool; Release returns it.
func NewCall(pool *bytebufferpool.Pool, name string, txid float64, streamID uint32, doc *amf0.Document) *Call {
	return &Call{Name: name, TransactionID: txid, StreamID: streamID, Doc: doc, pool: pool}
}

// Release returns the reply scratch; the call must not be used after.
func (c *Call) Release() {
	if c.buf != nil {
		c.pool.Put(c.buf)
		c.buf, c.reply = nil, nil
	}
}
