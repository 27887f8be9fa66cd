//go:build !race

package wsflv_test

import (
	"testing"

	"github.com/quaverlive/quaver/wsflv"
)

// Allocation budgets: the per-request and per-frame paths allocate nothing.
// AllocsPerRun is only meaningful without -race.

func TestReadRequestAllocs(t *testing.T) {
	var r wsflv.Request
	for _, c := range requestCases() {
		wire := []byte(c.wire)
		if n := testing.AllocsPerRun(100, func() { _, _ = wsflv.ReadRequest(wire, &r) }); n != 0 {
			t.Errorf("%s: %v allocs, want 0", c.name, n)
		}
	}
}

func TestReadFrameHeaderAllocs(t *testing.T) {
	for _, c := range frameCases() {
		wire := c.wire
		if n := testing.AllocsPerRun(100, func() { _, _, _ = wsflv.ReadFrameHeader(wire) }); n != 0 {
			t.Errorf("%s: %v allocs, want 0", c.name, n)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	dst := make([]byte, 0, 256)
	payload := make([]byte, wsflv.MaxControlPayload)
	key := [4]byte{1, 2, 3, 4}
	for name, f := range map[string]func(){
		"AppendFrameHeader small": func() { dst = wsflv.AppendFrameHeader(dst[:0], true, wsflv.OpBinary, 100) },
		"AppendFrameHeader 16":    func() { dst = wsflv.AppendFrameHeader(dst[:0], true, wsflv.OpBinary, 4111) },
		"AppendFrameHeader 64":    func() { dst = wsflv.AppendFrameHeader(dst[:0], true, wsflv.OpBinary, 1<<20) },
		"AppendFrame pong":        func() { dst = wsflv.AppendFrame(dst[:0], wsflv.OpPong, payload) },
		"AppendClose":             func() { dst = wsflv.AppendClose(dst[:0], wsflv.CloseNotFound, "stream live/x is not live") },
		"Unmask":                  func() { wsflv.Unmask(payload, key, 1) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
}

// TestFrameDecoderAllocs: Feed over every case (a mix of pings, closes, data
// frames and errors), whole and a byte at a time, allocates nothing.
func TestFrameDecoderAllocs(t *testing.T) {
	var d wsflv.FrameDecoder
	feed := func(wire []byte, step int) {
		d.Reset()
		for p := wire; len(p) > 0; {
			n, _, err := d.Feed(p[:min(step, len(p))])
			if err != nil {
				return
			}
			p = p[n:]
		}
	}
	for _, c := range streamCases() {
		for _, step := range []int{len(c.wire), 1} {
			if n := testing.AllocsPerRun(100, func() { feed(c.wire, step) }); n != 0 {
				t.Errorf("%s, %d-byte pieces: %v allocs, want 0", c.name, step, n)
			}
		}
	}
}

func TestReadCloseAllocs(t *testing.T) {
	for _, c := range readCloseCases {
		p := []byte(c.payload)
		if n := testing.AllocsPerRun(100, func() { _, _, _ = wsflv.ReadClose(p) }); n != 0 {
			t.Errorf("%s: %v allocs, want 0", c.name, n)
		}
	}
}

func TestParseRangeAllocs(t *testing.T) {
	dst := make([]byte, 0, 64)
	for _, c := range rangeCases() {
		v := []byte(c.value)
		if n := testing.AllocsPerRun(100, func() {
			r, res := wsflv.ParseRange(v, c.size)
			dst = wsflv.AppendContentRange(dst[:0], r, res, c.size)
		}); n != 0 {
			t.Errorf("%s: %v allocs, want 0", c.name, n)
		}
	}
}
