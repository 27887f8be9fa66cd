package rtmp

import (
	"strconv"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// Session tests from bytes: a real Session on a fake connection and loop (no
// socket, no ffmpeg). The end-to-end tests (server/e2e_test.go and friends)
// stay as the smoke layer with real clients.

// peer is a client driving one session through its netpoll.Session methods.
type peer struct {
	t    *testing.T
	srv  *enginetest.Server
	loop *fakeloop.Loop
	conn *fakeloop.Conn
	port *Session
	dec  *chunkcodec.Decoder
	err  error // the error that closed the session, if any
}

// dialPeer opens a session on srv and completes the simple handshake.
func dialPeer(t testing.TB, srv *enginetest.Server, l *fakeloop.Loop, remote string) *peer {
	c := srv.Attach(l, remote)
	p := &peer{srv: srv, loop: l, conn: c, dec: chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})}
	if tt, ok := t.(*testing.T); ok {
		p.t = tt
	}
	p.port = New(srv.Shared, c, 0)
	p.port.SetHandshakeRand(enginetest.Zeros{}) // S1 without crypto/rand: deterministic and fast
	p.send(enginetest.Hello())
	if got := len(c.Take()); got != 1+2*chunkcodec.HandshakeSize {
		t.Fatalf("handshake reply of %d bytes", got)
	}
	return p
}

// send feeds client bytes to the session, as a read would.
func (p *peer) send(b []byte) {
	if p.err != nil {
		return
	}
	if err := p.port.OnData(b); err != nil {
		p.err = err
		p.port.OnClose(err)
	}
	p.srv.Flush(p.loop) // the loop's tick: a batch window ends
}

// command and connectCmd are what a client sends (enginetest).
var (
	command    = enginetest.Command
	connectCmd = enginetest.Connect
)

// replies decodes what the session sent since the last call: one line per
// message, "name code" for commands and statuses, the type id otherwise.
func (p *peer) replies() []string {
	out := p.conn.Take()
	var lines []string
	var doc amf0.Document
	for len(out) > 0 {
		n, m, err := p.dec.Feed(out)
		out = out[n:]
		if err != nil {
			lines = append(lines, "decode error: "+err.Error())
			break
		}
		if m == nil {
			continue
		}
		switch m.TypeID {
		case chunkcodec.TypeCommandAMF0, chunkcodec.TypeDataAMF0:
			if _, err := doc.Decode(m.Payload); err != nil && doc.Len() == 0 {
				lines = append(lines, "bad amf0")
				continue
			}
			line := doc.At(0).Str()
			for i := 1; i < doc.Len(); i++ {
				if c := doc.At(i).Get("code"); c.Valid() {
					line += " " + c.Str()
				}
			}
			if line == "_result" && doc.Len() > 3 && doc.At(3).Kind() == amf0.KindNumber {
				line += " " + strconv.FormatFloat(doc.At(3).Number(), 'f', -1, 64)
			}
			lines = append(lines, line)
		case chunkcodec.TypeUserControl:
			uc, _ := chunkcodec.ParseUserControl(m.Payload)
			lines = append(lines, "user-control "+eventName(uc.Event))
		case chunkcodec.TypeWindowAckSize:
			lines = append(lines, "window-ack-size")
		case chunkcodec.TypeSetPeerBandwidth:
			lines = append(lines, "set-peer-bandwidth")
		case chunkcodec.TypeSetChunkSize:
			lines = append(lines, "set-chunk-size")
		default:
			lines = append(lines, "type "+strconv.Itoa(int(m.TypeID)))
		}
	}
	return lines
}

func eventName(e uint16) string {
	switch e {
	case chunkcodec.EventStreamBegin:
		return "stream-begin"
	case chunkcodec.EventStreamEOF:
		return "stream-eof"
	case chunkcodec.EventStreamIsRecorded:
		return "stream-is-recorded"
	case chunkcodec.EventPingResponse:
		return "ping-response"
	}
	return "event"
}

// A connection whose handshake fails is counted for operators.
func TestHandshakeFailureCounted(t *testing.T) {
	srv := enginetest.New(t)
	c := srv.Attach(fakeloop.New(0), "127.0.0.1:5000")
	s := New(srv.Shared, c, 0)
	bad := enginetest.Hello()
	bad[0] = 42 // not RTMP version 3
	if err := s.OnData(bad); err == nil {
		t.Fatal("a bad handshake accepted")
	}
	s.OnClose(nil)
	if n := srv.HandshakeFailures.Load(); n != 1 {
		t.Fatalf("HandshakeFailures = %d, want 1", n)
	}
}
