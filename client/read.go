package client

import (
	"fmt"

	"github.com/quaverlive/quaver/chunkcodec"
)

// The read side of a Conn: the one read loop, and the control messages it
// applies or answers on the way.

// ReadMessage returns the next message for the application: audio (8),
// video (9), data (18, 15), aggregate (22), command (20, 17: onStatus,
// _result, ...) and the user control stream events (4: Stream Begin, Stream
// EOF, Stream Dry, Stream Is Recorded; see UserControlEvent). Protocol
// control messages, Ping Requests and other user control events are handled
// internally: the inbound chunk size and acknowledgement window follow the
// server, and Acknowledgements and Ping Responses are sent.
//
// The message and its payload are owned by the Conn and valid until the next
// read (ReadMessage, Publish, Play, Call). In steady state ReadMessage does not
// allocate. It returns io.EOF when the server closed the connection, and an
// error wrapping ErrTimeout when the read deadline passed (the Conn stays
// usable: call SetReadDeadline and read again).
func (c *Conn) ReadMessage() (*chunkcodec.Message, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	m, err := c.next()
	if err != nil {
		if c.closed.Load() {
			// Closed by another goroutine: give the decoder's buffers back
			// (to Config.Pool) from the reading goroutine that owns them.
			c.dec.Release()
		}
		return nil, c.mapErr(err)
	}
	return m, nil
}

// next returns the next message the application may see. It is the one read
// loop that ReadMessage and every command's wait use.
func (c *Conn) next() (*chunkcodec.Message, error) {
	for {
		p, err := c.fill()
		if err != nil {
			return nil, err
		}
		for len(p) > 0 {
			n, m, err := c.dec.Feed(p)
			p = p[n:]
			_, _ = c.br.Discard(n)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if seq, due := c.dec.AckDue(); due {
				if err := c.writeControl(func(b []byte) []byte { return chunkcodec.AppendAck(b, seq) }); err != nil {
					return nil, err
				}
			}
			if m == nil {
				continue
			}
			if c.handleControl(m) {
				continue
			}
			return m, nil
		}
	}
}

// fill returns the buffered bytes, reading once from the socket when none are.
func (c *Conn) fill() ([]byte, error) {
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	p, _ := c.br.Peek(c.br.Buffered())
	return p, nil
}

// handleControl applies or answers a control message and reports whether it
// was consumed (not for the application).
func (c *Conn) handleControl(m *chunkcodec.Message) bool {
	switch m.TypeID {
	case chunkcodec.TypeSetChunkSize, chunkcodec.TypeAbort, chunkcodec.TypeAck,
		chunkcodec.TypeWindowAckSize, chunkcodec.TypeSetPeerBandwidth:
		return true // applied by the decoder, or nothing to do
	case chunkcodec.TypeUserControl:
		uc, err := chunkcodec.ParseUserControl(m.Payload)
		if err != nil {
			return true // lenient: ignore a malformed event
		}
		switch uc.Event {
		case chunkcodec.EventPingRequest:
			_ = c.writeControl(func(b []byte) []byte { return chunkcodec.AppendPingResponse(b, uc.Data) })
			return true
		case chunkcodec.EventStreamBegin, chunkcodec.EventStreamEOF,
			chunkcodec.EventStreamDry, chunkcodec.EventStreamIsRecorded:
			return false
		}
		return true
	}
	return false
}

// UserControlEvent decodes a user control message returned by ReadMessage
// (TypeID chunkcodec.TypeUserControl). ok is false for other messages.
func UserControlEvent(m *chunkcodec.Message) (ev chunkcodec.UserControl, ok bool) {
	if m == nil || m.TypeID != chunkcodec.TypeUserControl {
		return ev, false
	}
	ev, err := chunkcodec.ParseUserControl(m.Payload)
	return ev, err == nil
}
