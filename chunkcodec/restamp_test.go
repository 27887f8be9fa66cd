package chunkcodec

import (
	"bytes"
	"testing"
)

// decodeOne decodes the single message in b (chunk size 128).
func decodeOne(t testing.TB, b []byte) *Message {
	t.Helper()
	d := NewDecoder(DecoderConfig{})
	for len(b) > 0 {
		n, m, err := d.Feed(b)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if m != nil {
			if len(b) != 0 {
				t.Fatalf("%d bytes after the message", len(b))
			}
			return m
		}
	}
	t.Fatal("no message")
	return nil
}

func TestAppendRestampedHeader(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 300) // three chunks at 128
	cases := []struct {
		name     string
		csid     uint32
		orig, ts uint32
		ok       bool
	}{
		{"one-byte basic header", 6, 3_600_000, 40, true},
		{"two-byte basic header", 100, 3_600_000, 0, true},
		{"three-byte basic header", 1000, 5000, 4999, true},
		{"extended original", 6, 0x1000000, 40, false},
		{"new needs extended", 6, 40, 0x1000000, false},
	}
	for _, c := range cases {
		msg := AppendMessage(nil, Header{ChunkStreamID: c.csid, Timestamp: c.orig, TypeID: TypeVideo, StreamID: 1}, payload, 128)
		hdr, n, ok := AppendRestampedHeader([]byte("x"), msg, c.ts)
		if ok != c.ok {
			t.Fatalf("%s: ok %v", c.name, ok)
		}
		if !ok {
			if string(hdr) != "x" {
				t.Fatalf("%s: dst changed on refusal", c.name)
			}
			continue
		}
		m := decodeOne(t, append(hdr[1:], msg[n:]...))
		if m.Timestamp != c.ts || m.TypeID != TypeVideo || m.StreamID != 1 || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("%s: decoded ts %d type %d stream %d, %d payload bytes", c.name, m.Timestamp, m.TypeID, m.StreamID, len(m.Payload))
		}
	}
	if _, _, ok := AppendRestampedHeader(nil, []byte{0xc6, 1, 2}, 0); ok {
		t.Fatal("a type 3 chunk accepted")
	}
	if _, _, ok := AppendRestampedHeader(nil, []byte{0x06, 1, 2}, 0); ok {
		t.Fatal("a short header accepted")
	}
}

func TestAppendRestampedHeaderAllocs(t *testing.T) {
	msg := AppendMessage(nil, Header{ChunkStreamID: 6, Timestamp: 1000, TypeID: TypeVideo, StreamID: 1}, make([]byte, 500), 128)
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { dst, _, _ = AppendRestampedHeader(dst[:0], msg, 40) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzAppendRestampedHeader: whatever the bytes, no panic, and the header
// written is as long as the one it replaces; for a message AppendMessage
// encoded, the result decodes to the same message stamped ts.
func FuzzAppendRestampedHeader(f *testing.F) {
	f.Add(AppendMessage(nil, Header{ChunkStreamID: 6, Timestamp: 0x1000000, TypeID: 9, StreamID: 1}, []byte("abc"), 128), uint32(5))
	f.Add([]byte{0x00, 0x40}, uint32(0))
	f.Fuzz(func(t *testing.T, msg []byte, ts uint32) {
		out, n, ok := AppendRestampedHeader(nil, msg, ts)
		if !ok {
			if len(out) != 0 || n != 0 {
				t.Fatal("output on refusal")
			}
			return
		}
		if len(out) != n || n > len(msg) {
			t.Fatalf("header of %d bytes replaces %d of %d", len(out), n, len(msg))
		}
		m := AppendMessage(nil, Header{ChunkStreamID: 6, Timestamp: ts ^ 0x5555, TypeID: 9, StreamID: 1}, msg, 128)
		if out, n, ok := AppendRestampedHeader(nil, m, ts); ok {
			got := decodeOne(t, append(out, m[n:]...))
			if got.Timestamp != ts || !bytes.Equal(got.Payload, msg) {
				t.Fatalf("decoded ts %d and %d bytes", got.Timestamp, len(got.Payload))
			}
		}
	})
}
