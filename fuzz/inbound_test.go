package fuzz

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/internal/rtmp"
)

// inbound feeds a client-to-server byte stream, from its first handshake
// byte, to the server's real RTMP session (internal/rtmp) on a fake
// connection, cut at splits as reads would cut it. It returns what the
// session answered after the handshake, one line per message (sorted:
// replies and media the same read produces may interleave differently), and
// the error that closed the connection. It must never panic.
func inbound(srv *enginetest.Server, p []byte, splits []int) (replies []string, err error) {
	l := fakeloop.New(0)
	c := srv.Attach(l, "127.0.0.1:7000")
	s := rtmp.New(srv.Shared, c, 0)
	s.SetHandshakeRand(bytes.NewReader(make([]byte, 8192)))
	feed := func(b []byte) {
		if err == nil {
			if err = s.OnData(b); err != nil {
				s.OnClose(err)
			}
			srv.Flush(l)
		}
	}
	prev := 0
	for _, at := range splits {
		if at > prev && at < len(p) {
			feed(p[prev:at])
			prev = at
		}
	}
	feed(p[prev:])
	if err == nil {
		s.OnClose(nil)
	}
	srv.Reg.Sweep(time.Now().Add(time.Second))
	return decodeReplies(c.Take()), err
}

// decodeReplies skips S0, S1 and S2 and lists the messages that follow.
func decodeReplies(out []byte) []string {
	if len(out) < 1+2*chunkcodec.HandshakeSize {
		return []string{"handshake " + strconv.Itoa(len(out))}
	}
	out = out[1+2*chunkcodec.HandshakeSize:]
	dec := chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})
	defer dec.Release()
	var doc amf0.Document
	var lines []string
	for len(out) > 0 {
		n, m, err := dec.Feed(out)
		out = out[n:]
		if err != nil {
			lines = append(lines, "undecodable reply: "+err.Error())
			break
		}
		if m == nil {
			continue
		}
		line := strconv.Itoa(int(m.TypeID))
		if m.TypeID == chunkcodec.TypeCommandAMF0 {
			if _, err := doc.Decode(m.Payload); err == nil || doc.Len() > 0 {
				line += " " + doc.At(0).Str()
			}
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// seedSession returns C0+C1+C2 followed by a connect and a createStream.
func seedSession() []byte {
	var c chunkcodec.ClientHandshake
	c.Rand = bytes.NewReader(make([]byte, 8192))
	b := c.Start(nil)
	b = append(b, make([]byte, chunkcodec.HandshakeSize)...) // C2
	b = chunkcodec.AppendSetChunkSize(b, 4096)
	body := amf0.AppendCommandStart(nil, "connect", 1)
	body = amf0.AppendObjectStart(body)
	body = amf0.AppendPropString(body, "app", "live")
	body = amf0.AppendPropString(body, "tcUrl", "rtmp://127.0.0.1/live")
	body = amf0.AppendObjectEnd(body)
	b = chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0}, body, 4096)
	body = amf0.AppendCommandStart(body[:0], "createStream", 2)
	body = amf0.AppendNull(body)
	b = chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0}, body, 4096)
	body = amf0.AppendCommandStart(body[:0], "publish", 3)
	body = amf0.AppendNull(body)
	body = amf0.AppendString(body, "cam")
	body = amf0.AppendString(body, "live")
	b = chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0, StreamID: 1}, body, 4096)
	return chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: 6, TypeID: chunkcodec.TypeVideo, StreamID: 1}, []byte{0x17, 0, 0, 0, 0, 1, 2, 3}, 4096)
}

func TestInboundSeed(t *testing.T) {
	srv := enginetest.New(t)
	p := seedSession()
	want := []string{"1", "20 _result", "20 _result", "20 onStatus", "4", "5", "6"}
	got, err := inbound(srv, p, nil)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("replies %q, err %v; want %q", got, err, want)
	}
	// Split invariance on the seed, at every offset.
	for i := 1; i < len(p); i += 7 {
		got, err := inbound(srv, p, []int{i})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("split at %d: replies %q, err %v", i, got, err)
		}
	}
}

// FuzzInbound drives the real session from the first handshake byte: no
// panic, the same replies and the same verdict however the bytes are split,
// and nothing left behind (streams, connection slots) once it closes.
func FuzzInbound(f *testing.F) {
	f.Add(seedSession(), uint16(1537), uint16(3000))
	f.Add(seedSession()[:1600], uint16(1), uint16(2))
	srv := enginetest.New(f)
	f.Fuzz(func(t *testing.T, p []byte, s1, s2 uint16) {
		r1, e1 := inbound(srv, p, nil)
		a, b := int(s1), int(s2)
		if a > b {
			a, b = b, a
		}
		r2, e2 := inbound(srv, p, []int{a, b})
		if !slices.Equal(r1, r2) || (e1 == nil) != (e2 == nil) {
			t.Fatalf("split at %d,%d changed the result: %q, %v vs %q, %v", a, b, r1, e1, r2, e2)
		}
		if n, _ := srv.Reg.Counts(); n != 0 {
			t.Fatalf("%d streams left behind", n)
		}
		if srv.Open != 0 {
			t.Fatalf("%d connection slots left behind", srv.Open)
		}
	})
}
