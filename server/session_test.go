package server

import (
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/netpoll"
)

// Session tests from bytes: a real Session on a fake connection and loop (no
// socket, no ffmpeg). The end-to-end tests (e2e_test.go and friends) stay as
// the smoke layer with real clients.

// peer is a client driving one session through its transport port.
type peer struct {
	t    *testing.T
	srv  *Server
	loop *fakeloop.Loop
	conn *fakeloop.Conn
	port netpoll.Session
	dec  *chunkcodec.Decoder
	err  error // the error that closed the session, if any
}

// newTestServer is a server that is not listening: sessions are opened on
// fake connections.
func newTestServer(t testing.TB, cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RecordDir == "" {
		cfg.RecordDir = t.TempDir()
	}
	return New(cfg)
}

// dialPeer opens a session on srv and completes the simple handshake.
func dialPeer(t testing.TB, srv *Server, l *fakeloop.Loop, remote string) *peer {
	c := &fakeloop.Conn{L: l, Remote: remote, Kind: listenerRTMP}
	p := &peer{srv: srv, loop: l, conn: c, dec: chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})}
	if tt, ok := t.(*testing.T); ok {
		p.t = tt
	}
	p.port = srv.open(c)
	if p.port == nil {
		t.Fatalf("connection from %s refused", remote)
	}
	(*Session)(p.port.(*rtmpPort)).hs.Rand = zeroRand{} // S1 without crypto/rand: deterministic and fast
	hs := make([]byte, 1+2*chunkcodec.HandshakeSize)    // C0, C1 (zero time, zero version: simple), C2
	hs[0] = 3
	p.send(hs)
	if got := len(c.Take()); got != 1+2*chunkcodec.HandshakeSize {
		t.Fatalf("handshake reply of %d bytes", got)
	}
	return p
}

// zeroRand reads zeros.
type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
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
	p.loop.Run()
	p.srv.hub.FlushLoop(p.loop.Idx) // the loop's tick: a batch window ends
}

// command chunk-encodes an AMF0 command (chunk size 128, as a client starts).
func command(streamID uint32, name string, tx float64, args ...any) []byte {
	b := amf0.AppendCommandStart(nil, name, tx)
	b = amf0.AppendNull(b)
	for _, a := range args {
		b, _ = amf0.AppendAny(b, a)
	}
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0, StreamID: streamID}, b, chunkcodec.DefaultChunkSize)
}

// connectCmd is a connect command to app.
func connectCmd(app string) []byte {
	b := amf0.AppendCommandStart(nil, "connect", 1)
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "app", app)
	b = amf0.AppendPropString(b, "tcUrl", "rtmp://127.0.0.1/"+app)
	b = amf0.AppendPropNumber(b, "objectEncoding", 0)
	b = amf0.AppendObjectEnd(b)
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0}, b, chunkcodec.DefaultChunkSize)
}

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
