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
