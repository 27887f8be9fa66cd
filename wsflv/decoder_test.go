package wsflv_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/quaverlive/quaver/wsflv"
)

// feedAll feeds wire to a fresh FrameDecoder in pieces whose sizes next
// chooses (1 to the bytes left), loops on each piece as a caller does, and
// returns the frames (copied) and the error. It checks Feed's contract on the
// way: n within the piece, progress on every call, control payloads unmasked
// in the decoder's own memory and within the control frame limit, data
// frames without payload, sticky errors.
func feedAll(t testing.TB, wire []byte, next func(left int) int) ([]wsflv.Frame, error) {
	t.Helper()
	var d wsflv.FrameDecoder
	var frames []wsflv.Frame
	self := unsafe.Slice((*byte)(unsafe.Pointer(&d)), unsafe.Sizeof(d))
	if n, f, err := d.Feed(nil); n != 0 || f != nil || err != nil {
		t.Fatalf("Feed(nil) = %d, %v, %v", n, f, err)
	}
	for p := wire; len(p) > 0; {
		piece := p[:next(len(p))]
		p = p[len(piece):]
		for len(piece) > 0 {
			n, f, err := d.Feed(piece)
			if n < 0 || n > len(piece) {
				t.Fatalf("Feed consumed %d of %d bytes", n, len(piece))
			}
			if err != nil {
				if f != nil {
					t.Fatalf("Feed returned a frame with error %v", err)
				}
				for range 2 {
					if n2, f2, err2 := d.Feed(wire); n2 != 0 || f2 != nil || err2 != err {
						t.Fatalf("error %v is not sticky: then %d, %v, %v", err, n2, f2, err2)
					}
				}
				return frames, err
			}
			if n == 0 && f == nil {
				t.Fatalf("Feed made no progress on %d bytes", len(piece))
			}
			piece = piece[n:]
			if f == nil {
				continue
			}
			if control := f.Opcode&0x8 != 0; control != (f.Payload != nil) || len(f.Payload) != f.Length && control {
				t.Fatalf("frame %+v: payload %d bytes", *f, len(f.Payload))
			}
			if len(f.Payload) > wsflv.MaxControlPayload || !within(f.Payload, self) {
				t.Fatalf("payload of %d bytes is not in the decoder's buffer", len(f.Payload))
			}
			g := *f
			if f.Payload != nil {
				g.Payload = bytes.Clone(f.Payload)
				if g.Payload == nil {
					g.Payload = []byte{}
				}
			}
			frames = append(frames, g)
		}
	}
	return frames, nil
}

func whole(left int) int { return left }
func oneByte(int) int    { return 1 }

// framesMismatch describes the first difference between two frame lists.
func framesMismatch(got, want []wsflv.Frame) string {
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			return fmt.Sprintf("%d frames, want %d", len(got), len(want))
		}
		g, w := got[i], want[i]
		if g.Fin != w.Fin || g.Opcode != w.Opcode || g.Length != w.Length ||
			(g.Payload == nil) != (w.Payload == nil) || !bytes.Equal(g.Payload, w.Payload) {
			return fmt.Sprintf("frame %d = %s, want %s", i, showFrame(g), showFrame(w))
		}
	}
	return ""
}

func showFrame(f wsflv.Frame) string {
	if f.Payload == nil {
		return fmt.Sprintf("{fin %v op %#x len %d, no payload}", f.Fin, f.Opcode, f.Length)
	}
	return fmt.Sprintf("{fin %v op %#x len %d payload %q}", f.Fin, f.Opcode, f.Length, f.Payload)
}

func TestFrameDecoder(t *testing.T) {
	for _, c := range streamCases() {
		t.Run(c.name, func(t *testing.T) {
			frames, err := feedAll(t, c.wire, whole)
			if d := framesMismatch(frames, c.frames); d != "" {
				t.Fatal(d)
			}
			if !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
		})
	}
}

// TestFrameDecoderSplit feeds every case cut in two at every offset, and a
// byte at a time: the frames and the error are those of the whole.
func TestFrameDecoderSplit(t *testing.T) {
	for _, c := range streamCases() {
		t.Run(c.name, func(t *testing.T) {
			check := func(how string, next func(int) int) {
				frames, err := feedAll(t, c.wire, next)
				if d := framesMismatch(frames, c.frames); d != "" || err != c.err {
					t.Fatalf("%s: %s, error %v (want %v)", how, d, err, c.err)
				}
			}
			check("a byte at a time", oneByte)
			for k := 1; k < len(c.wire); k++ {
				if len(c.wire) > 512 && k%61 != 0 {
					continue // sample the long streams
				}
				first := true
				check(fmt.Sprintf("cut at %d", k), func(left int) int {
					if first {
						first = false
						return k
					}
					return left
				})
			}
		})
	}
}

// TestFrameDecoderReset checks that Reset forgets a partial frame, an open
// fragmented message and an error.
func TestFrameDecoderReset(t *testing.T) {
	var d wsflv.FrameDecoder
	ping := masked(0x89, []byte("ok"))
	for _, dirty := range [][]byte{
		ping[:4],                             // partial header
		ping[:7],                             // partial payload
		masked(0x01, nil),                    // open fragmented message
		clientFrame(0x89, false, 0, 0, nil),  // error
		clientFrame(0x82, true, 100, 0, nil), // partial data frame
	} {
		d.Reset()
		for p := dirty; len(p) > 0; {
			n, _, err := d.Feed(p)
			if err != nil {
				break
			}
			p = p[n:]
		}
		d.Reset()
		for p := cat(masked(0x82, nil), ping); len(p) > 0; {
			n, f, err := d.Feed(p)
			if err != nil {
				t.Fatalf("after % x and Reset: %v", dirty, err)
			}
			p = p[n:]
			if f != nil && f.Opcode == wsflv.OpPing && string(f.Payload) != "ok" {
				t.Fatalf("after % x and Reset: ping %q", dirty, f.Payload)
			}
		}
	}
}

// TestFrameDecoderSize bounds what a decoder holds, whatever the peer sends:
// a header, one control payload and bookkeeping.
func TestFrameDecoderSize(t *testing.T) {
	const limit = wsflv.MaxFrameHeader + wsflv.MaxControlPayload + 160
	if s := unsafe.Sizeof(wsflv.FrameDecoder{}); s > limit {
		t.Fatalf("FrameDecoder is %d bytes, limit %d", s, limit)
	}
}

func TestReadClose(t *testing.T) {
	for _, c := range readCloseCases {
		code, reason, err := wsflv.ReadClose([]byte(c.payload))
		if code != c.code || string(reason) != c.reason || err != c.err {
			t.Errorf("%s: %d %q %v, want %d %q %v", c.name, code, reason, err, c.code, c.reason, c.err)
		}
	}
	// A close frame from the decoder, read back.
	frames, err := feedAll(t, masked(0x88, []byte(closePayload(wsflv.CloseGoingAway, "bye"))), whole)
	if err != nil || len(frames) != 1 {
		t.Fatalf("%v, %v", frames, err)
	}
	if code, reason, err := wsflv.ReadClose(frames[0].Payload); code != wsflv.CloseGoingAway || string(reason) != "bye" || err != nil {
		t.Fatalf("%d %q %v", code, reason, err)
	}
}

func TestValidCloseCode(t *testing.T) {
	valid := map[uint16]bool{}
	for c := range 1 << 16 {
		valid[uint16(c)] = wsflv.ValidCloseCode(uint16(c))
	}
	for _, c := range []struct {
		code uint16
		ok   bool
	}{
		{0, false}, {999, false}, {1000, true}, {1001, true}, {1002, true}, {1003, true},
		{1004, false}, {1005, false}, {1006, false}, {1007, true}, {1011, true}, {1013, true}, {1014, true},
		{1015, false}, {1016, false}, {2999, false}, {3000, true}, {4404, true}, {4999, true}, {5000, false}, {65535, false},
		{wsflv.CloseNormal, true}, {wsflv.CloseTryAgainLater, true}, {wsflv.CloseNotFound, true}, {wsflv.CloseNoStatus, false},
	} {
		if valid[c.code] != c.ok {
			t.Errorf("ValidCloseCode(%d) = %v, want %v", c.code, valid[c.code], c.ok)
		}
	}
}
