package client

import (
	"context"
	"fmt"
	"math"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// Status is the information object of an onStatus command or an _error
// reply (RTMP specification 1.0, section 7.2.2): level is "status",
// "warning" or "error"; Code is a dotted code such as NetStream.Play.Start.
type Status struct {
	Level       string
	Code        string
	Description string
}

// StatusError is the error returned when the server refuses a command, with
// an onStatus of level "error" or an _error reply. It matches ErrStatus.
type StatusError struct {
	// Command is the refused command: "connect", "createStream", "publish",
	// "play" or the name passed to Call.
	Command string
	Status
}

// Error returns "client: <command> refused: <code>: <description>".
func (e *StatusError) Error() string {
	return "client: " + e.Command + " refused: " + e.Code + ": " + e.Description
}

// Unwrap returns ErrStatus.
func (e *StatusError) Unwrap() error { return ErrStatus }

// Status codes the client waits for.
const (
	CodePublishStart     = "NetStream.Publish.Start"
	CodePlayStart        = "NetStream.Play.Start"
	CodePlayReset        = "NetStream.Play.Reset"
	CodeUnpublishNotify  = "NetStream.Play.UnpublishNotify"
	CodePublishNotify    = "NetStream.Play.PublishNotify"
	CodeConnectRejected  = "NetConnection.Connect.Rejected"
	CodeConnectSuccess   = "NetConnection.Connect.Success"
	CodePublishRejected  = "NetStream.Publish.Rejected"
	CodePublishBadName   = "NetStream.Publish.BadName"
	CodePlayFailed       = "NetStream.Play.Failed"
	CodePlayNotFound     = "NetStream.Play.StreamNotFound"
	CodeCallFailed       = "NetConnection.Call.Failed"
	CodeUnpublishSuccess = "NetStream.Unpublish.Success"
)

// Publish publishes the stream name ("cam1", or "cam1?token=x") in "live"
// mode: it sends releaseStream, FCPublish and createStream, then publish on
// the new stream, and waits for NetStream.Publish.Start. A refusal returns a
// *StatusError with the server's code and description (the server usually
// closes the connection after it). The wait is bounded by ctx and
// Config.Timeout. After Publish, send media with WriteMessage.
func (c *Conn) Publish(ctx context.Context, name string) error {
	if err := c.checkIdle(); err != nil {
		return err
	}
	if err := c.sendCall(csidCommand, 0, "releaseStream", c.tx(), name); err != nil {
		return err
	}
	if err := c.sendCall(csidCommand, 0, "FCPublish", c.tx(), name); err != nil {
		return err
	}
	id, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	if err := c.sendCall(csidStream, id, "publish", c.tx(), name, "live"); err != nil {
		return err
	}
	if err := c.awaitStatus(ctx, "publish", CodePublishStart); err != nil {
		return err
	}
	c.wmu.Lock()
	c.publishing, c.pubName = true, name
	c.wmu.Unlock()
	return nil
}

// Play plays the stream name: it sends createStream, then play(name, -2000)
// (live or recorded, from the start) on the new stream and a Set Buffer
// Length of Config.BufferLength, and waits for NetStream.Play.Start. A
// refusal returns a *StatusError. Media follows through ReadMessage. The
// wait is bounded by ctx and Config.Timeout.
func (c *Conn) Play(ctx context.Context, name string) error {
	if err := c.checkIdle(); err != nil {
		return err
	}
	id, err := c.createStream(ctx)
	if err != nil {
		return err
	}
	if err := c.sendCall(csidStream, id, "play", c.tx(), name, -2000); err != nil {
		return err
	}
	if err := c.writeControl(func(b []byte) []byte {
		return chunkcodec.AppendSetBufferLength(b, id, c.cfg.BufferLength)
	}); err != nil {
		return err
	}
	return c.awaitStatus(ctx, "play", CodePlayStart)
}

// Call invokes the command name with args on the connection (message stream
// 0) and waits for the _result or _error with its transaction id. Arguments
// may be nil, bool, string, any integer or float type, []any (a strict
// array), map[string]any (an object) or an amf0.Value; the command object is
// null.
//
// It returns the decoded _result body: At(0) is "_result", At(1) the
// transaction id, At(2) the command object and At(3) onwards the returned
// values. The Document is owned by the Conn and valid until the next read.
// An _error reply returns a *StatusError. Messages other than the reply that
// arrive while Call waits (media of a stream being played) are dropped.
func (c *Conn) Call(ctx context.Context, name string, args ...any) (*amf0.Document, error) {
	tx := c.tx()
	if err := c.sendCall(csidCommand, 0, name, tx, args...); err != nil {
		return nil, err
	}
	return c.awaitResult(ctx, name, tx)
}

// checkIdle refuses a second Publish or Play.
func (c *Conn) checkIdle() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if c.streamID != 0 {
		return ErrStreamActive
	}
	return nil
}

// tx returns the next transaction id.
func (c *Conn) tx() float64 {
	c.nextTx++
	return c.nextTx
}

// createStream sends createStream and returns the new message stream id,
// which it also records for WriteMessage and Close.
func (c *Conn) createStream(ctx context.Context) (uint32, error) {
	tx := c.tx()
	if err := c.sendCall(csidCommand, 0, "createStream", tx); err != nil {
		return 0, err
	}
	doc, err := c.awaitResult(ctx, "createStream", tx)
	if err != nil {
		return 0, err
	}
	f := doc.At(3).Number()
	if doc.At(3).Kind() != amf0.KindNumber || f < 1 || f > math.MaxUint32 {
		return 0, fmt.Errorf("%w: createStream returned %v", ErrProtocol, doc.At(3).Kind())
	}
	id := uint32(f)
	c.wmu.Lock()
	c.streamID = id
	c.wmu.Unlock()
	return id, nil
}

// awaitResult waits for the _result or _error of transaction tx.
func (c *Conn) awaitResult(ctx context.Context, what string, tx float64) (*amf0.Document, error) {
	err := c.withDeadline(ctx, 0, what, func() error {
		for {
			if err := c.nextCommand(); err != nil {
				return err
			}
			name := c.doc.At(0).Bytes()
			if c.doc.At(1).Number() != tx || (string(name) != "_result" && string(name) != "_error") {
				continue
			}
			if string(name) == "_error" {
				st, _ := statusOf(&c.doc)
				return &StatusError{Command: what, Status: st}
			}
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	return &c.doc, nil
}

// awaitStatus waits for an onStatus with code want; an onStatus of level
// "error" fails with a *StatusError.
func (c *Conn) awaitStatus(ctx context.Context, what, want string) error {
	return c.withDeadline(ctx, 0, what, func() error {
		for {
			if err := c.nextCommand(); err != nil {
				return err
			}
			st, ok := statusOf(&c.doc)
			switch {
			case !ok:
				continue
			case st.Code == want:
				return nil
			case st.Level == "error":
				return &StatusError{Command: what, Status: st}
			}
		}
	})
}

// nextCommand reads messages until a command arrives that decodeCommand
// accepts, leaving it decoded in c.doc. Messages in between (media of a stream
// being played, other commands' replies) are dropped.
func (c *Conn) nextCommand() error {
	for {
		m, err := c.next()
		if err != nil {
			return err
		}
		if c.decodeCommand(m) {
			return nil
		}
	}
}

// decodeCommand decodes a command message into c.doc and reports whether it
// has at least a name and a transaction id.
func (c *Conn) decodeCommand(m *chunkcodec.Message) bool {
	body, ok := commandBody(m)
	if !ok {
		return false
	}
	_, _ = c.doc.Decode(body)
	return c.doc.Len() >= 2
}

func commandBody(m *chunkcodec.Message) ([]byte, bool) {
	switch m.TypeID {
	case chunkcodec.TypeCommandAMF0:
		return m.Payload, true
	case chunkcodec.TypeCommandAMF3:
		if len(m.Payload) > 0 && m.Payload[0] == 0 {
			return m.Payload[1:], true
		}
		return m.Payload, true
	}
	return nil, false
}

// statusOf reads the information object of an onStatus command or an
// _error reply decoded in doc: the first object after the transaction id.
func statusOf(doc *amf0.Document) (Status, bool) {
	name := doc.At(0).Bytes()
	if string(name) != "onStatus" && string(name) != "_error" {
		return Status{}, false
	}
	for i := 2; i < doc.Len(); i++ {
		v := doc.At(i)
		if v.Kind() == amf0.KindObject || v.Kind() == amf0.KindECMAArray {
			return Status{
				Level:       v.Get("level").Str(),
				Code:        v.Get("code").Str(),
				Description: v.Get("description").Str(),
			}, true
		}
	}
	return Status{}, string(name) == "_error"
}

// ParseStatus decodes an onStatus command message returned by ReadMessage.
// ok is false for other messages. It allocates (not meant for per-frame use).
func ParseStatus(m *chunkcodec.Message) (st Status, ok bool) {
	body, ok := commandBody(m)
	if !ok {
		return st, false
	}
	var doc amf0.Document
	_, _ = doc.Decode(body)
	if string(doc.At(0).Bytes()) != "onStatus" {
		return st, false
	}
	return statusOf(&doc)
}

// StatusCode returns the code of an onStatus command message returned by
// ReadMessage, such as NetStream.Play.UnpublishNotify. ok is false for other
// messages.
func StatusCode(m *chunkcodec.Message) (code string, ok bool) {
	st, ok := ParseStatus(m)
	return st.Code, ok
}

// sendCall sends the command name(tx, null, args...) on message stream
// streamID.
func (c *Conn) sendCall(csid, streamID uint32, name string, tx float64, args ...any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := c.appendCallLocked(c.wbuf[:0], csid, streamID, name, tx, args...)
	if err != nil {
		return err
	}
	c.wbuf = b
	return c.flushLocked()
}

// appendCallLocked appends the chunk-encoded command name(tx, null, args...)
// to dst. Caller holds wmu.
func (c *Conn) appendCallLocked(dst []byte, csid, streamID uint32, name string, tx float64, args ...any) ([]byte, error) {
	b := amf0.AppendCommandStart(c.cbuf[:0], name, tx)
	b = amf0.AppendNull(b)
	for _, a := range args {
		var err error
		if b, err = amf0.AppendAny(b, a); err != nil {
			err = fmt.Errorf("%w: %w", ErrBadArgument, err)
			c.cbuf = b[:0]
			return dst, fmt.Errorf("client: %s argument: %w", name, err)
		}
	}
	c.cbuf = b
	return c.appendCommandLocked(dst, csid, streamID, b), nil
}

// appendCommandLocked chunk-encodes an AMF0 command body.
func (c *Conn) appendCommandLocked(dst []byte, csid, streamID uint32, body []byte) []byte {
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{
		ChunkStreamID: csid, TypeID: chunkcodec.TypeCommandAMF0, StreamID: streamID,
	}, body, c.cfg.ChunkSize)
}
