package fuzz

import (
	"bytes"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// inbound consumes a client-to-server byte stream as the server does: handshake,
// then chunks, decoding every command body. It reports how many messages and
// commands it saw and the first error; it must never panic.
func inbound(p []byte, splits []int) (msgs, cmds int, err error) {
	var hs chunkcodec.ServerHandshake
	hs.Rand = bytes.NewReader(make([]byte, 4096))
	dec := chunkcodec.NewDecoder(chunkcodec.DecoderConfig{MaxMessageSize: 1 << 16, MaxChunkStreams: 8})
	defer dec.Release()
	var doc amf0.Document
	var out []byte
	done := false
	feed := func(b []byte) error {
		if !done {
			n, reply, d, err := hs.Feed(b, out[:0])
			out = reply
			if err != nil {
				return err
			}
			b, done = b[n:], d
			if !done {
				return nil
			}
		}
		for len(b) > 0 {
			n, m, err := dec.Feed(b)
			b = b[n:]
			if err != nil {
				return err
			}
			if m == nil {
				continue
			}
			msgs++
			if m.TypeID == chunkcodec.TypeCommandAMF0 || m.TypeID == chunkcodec.TypeCommandAMF3 {
				body := m.Payload
				if m.TypeID == chunkcodec.TypeCommandAMF3 && len(body) > 0 {
					body = body[1:]
				}
				if _, err := doc.Decode(body); err == nil {
					cmds++
					_ = doc.At(2).Get("app").Bytes()
				}
			}
			if m.TypeID == chunkcodec.TypeUserControl {
				_, _ = chunkcodec.ParseUserControl(m.Payload)
			}
		}
		return nil
	}
	prev := 0
	for _, s := range splits {
		if s <= prev || s >= len(p) {
			continue
		}
		if err = feed(p[prev:s]); err != nil {
			return
		}
		prev = s
	}
	err = feed(p[prev:])
	return
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
	return b
}

func TestInboundSeed(t *testing.T) {
	p := seedSession()
	msgs, cmds, err := inbound(p, nil)
	if err != nil || msgs != 3 || cmds != 2 {
		t.Fatalf("msgs=%d cmds=%d err=%v", msgs, cmds, err)
	}
	// Split invariance on the seed, at every offset.
	for i := 1; i < len(p); i += 7 {
		m2, c2, err2 := inbound(p, []int{i})
		if m2 != msgs || c2 != cmds || err2 != nil {
			t.Fatalf("split at %d: msgs=%d cmds=%d err=%v", i, m2, c2, err2)
		}
	}
}

// FuzzInbound: no panic, and the same result however the bytes are split.
func FuzzInbound(f *testing.F) {
	f.Add(seedSession(), uint16(1537), uint16(3000))
	f.Add(seedSession()[:1600], uint16(1), uint16(2))
	f.Fuzz(func(t *testing.T, p []byte, s1, s2 uint16) {
		m1, c1, e1 := inbound(p, nil)
		a, b := int(s1), int(s2)
		if a > b {
			a, b = b, a
		}
		m2, c2, e2 := inbound(p, []int{a, b})
		if m1 != m2 || c1 != c2 || (e1 == nil) != (e2 == nil) {
			t.Fatalf("split at %d,%d changed the result: (%d,%d,%v) vs (%d,%d,%v)", a, b, m1, c1, e1, m2, c2, e2)
		}
	})
}
