package chunkcodec

import (
	"bytes"
	"errors"
	"testing"
)

// TestEncoderCases checks that the encoders produce the case table's wire
// bytes exactly, appending to what dst already holds.
func TestEncoderCases(t *testing.T) {
	for _, c := range ccCases() {
		if c.enc == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			if got := c.enc(nil); !bytes.Equal(got, c.wire) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, c.wire)
			}
			prefix := []byte("prefix")
			got := c.enc(prefix)
			if !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], c.wire) {
				t.Fatalf("append to a non-empty dst: %x", got)
			}
		})
	}
}

// TestControlCases checks the payload parsers against the case table.
func TestControlCases(t *testing.T) {
	for _, c := range ccCases() {
		if c.ctrl == nil {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p := c.msgs[0].Payload
			var got any
			var err error
			switch c.ctrl.(type) {
			case uint32:
				got, err = ParseUint32Payload(p)
			case ccPeerBW:
				var bw ccPeerBW
				bw.Size, bw.Limit, err = ParseSetPeerBandwidth(p)
				got = bw
			case UserControl:
				got, err = ParseUserControl(p)
			}
			if err != nil || got != c.ctrl {
				t.Fatalf("parsed %#v, %v; want %#v", got, err, c.ctrl)
			}
		})
	}
}

func TestControlShortPayloads(t *testing.T) {
	short := []struct {
		name  string
		parse func() error
	}{
		{"uint32 of 3 bytes", func() error { _, err := ParseUint32Payload([]byte{1, 2, 3}); return err }},
		{"uint32 of 0 bytes", func() error { _, err := ParseUint32Payload(nil); return err }},
		{"peer bandwidth of 4 bytes", func() error { _, _, err := ParseSetPeerBandwidth([]byte{1, 2, 3, 4}); return err }},
		{"user control of 1 byte", func() error { _, err := ParseUserControl([]byte{0}); return err }},
		{"stream begin of 5 bytes", func() error { _, err := ParseUserControl([]byte{0, 0, 0, 0, 0}); return err }},
		{"ping of 2 bytes", func() error { _, err := ParseUserControl([]byte{0, 6}); return err }},
		{"set buffer length of 6 bytes", func() error { _, err := ParseUserControl([]byte{0, 3, 0, 0, 0, 1}); return err }},
	}
	for _, s := range short {
		if err := s.parse(); !errors.Is(err, ErrShortPayload) {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	// Unknown events with no data are not an error.
	if u, err := ParseUserControl([]byte{0, 26}); err != nil || u.Event != 26 {
		t.Errorf("unknown event: %v %v", u, err)
	}
}

func TestEncodedLen(t *testing.T) {
	for _, csid := range []uint32{2, 63, 64, 319, 320, 65599} {
		for _, ts := range []uint32{0, 0xFFFFFE, 0xFFFFFF, 0xFFFFFFFF} {
			for _, cs := range []uint32{0, 1, 2, 127, 128, 129, 4096} {
				for _, n := range []int{0, 1, 127, 128, 129, 256, 257, 5000} {
					h := Header{ChunkStreamID: csid, Timestamp: ts, TypeID: TypeVideo}
					got := len(AppendMessage(nil, h, make([]byte, n), cs))
					if want := EncodedLen(h, n, cs); got != want {
						t.Fatalf("csid %d ts %d cs %d n %d: wrote %d, EncodedLen %d", csid, ts, cs, n, got, want)
					}
				}
			}
		}
	}
}

func TestAppendMessagePanicsOnProgrammingErrors(t *testing.T) {
	for _, f := range []func(){
		func() { AppendMessage(nil, Header{ChunkStreamID: 1}, nil, 128) },
		func() { AppendMessage(nil, Header{ChunkStreamID: 65600}, nil, 128) },
		func() { AppendMessage(nil, Header{ChunkStreamID: 3}, make([]byte, MaxMessageLength+1), 128) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

// TestAppendMessageSameBytes checks that the encoding depends only on the
// message: encoding the same message after a different one gives the same
// bytes, so one encoding can serve every player.
func TestAppendMessageSameBytes(t *testing.T) {
	h := Header{ChunkStreamID: 6, Timestamp: 1234, TypeID: TypeVideo, StreamID: 1}
	p := ccPayload(10000, 5)
	a := AppendMessage(nil, h, p, 4096)
	b := AppendMessage(AppendMessage(nil, Header{ChunkStreamID: 6, Timestamp: 1000, TypeID: TypeVideo, StreamID: 1}, p[:10], 4096), h, p, 4096)
	if !bytes.HasSuffix(b, a) {
		t.Fatal("encoding depends on the previous message")
	}
}
