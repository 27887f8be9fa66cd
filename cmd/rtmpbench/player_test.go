package main

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/wsflv"
)

// TestWSReaderSplits feeds WebSocket frames of every length encoding (7-bit,
// 16-bit and 64-bit), FLV tags spanning frames, and a ping, in random
// splits: every split gives the same frames, and the ping is answered.
func TestWSReaderSplits(t *testing.T) {
	big := legacyFrame(1, 2)
	big = append(big, make([]byte, 70_000)...) // 64-bit length frame
	flv := flvmux.AppendFileHeader(nil, true, true)
	flv = flvmux.AppendTag(flv, flvmux.TagVideo, 0, legacyFrame(1, 1))
	flv = flvmux.AppendTag(flv, flvmux.TagVideo, 33, big)
	flv = flvmux.AppendTag(flv, flvmux.TagVideo, 66, legacyFrame(1, 3))
	// Frames cut the FLV stream at arbitrary points: 100 (7-bit), 1000
	// (16-bit) and the rest (64-bit).
	var wire []byte
	wire = wsflv.AppendFrame(wire, wsflv.OpBinary, flv[:100])
	wire = wsflv.AppendFrame(wire, wsflv.OpPing, []byte("hi"))
	wire = wsflv.AppendFrame(wire, wsflv.OpBinary, flv[100:1100])
	wire = wsflv.AppendFrame(wire, wsflv.OpBinary, flv[1100:])
	wire = wsflv.AppendFrame(wire, wsflv.OpBinary, nil) // empty frame

	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		r := &runner{t0: time.Now(), cfg: Config{Timeout: time.Second}}
		p := &player{}
		a, b := net.Pipe()
		pong := make(chan []byte, 1)
		go func() {
			buf := make([]byte, 2+4+2) // header, mask key, "hi"
			n, _ := io.ReadFull(b, buf)
			pong <- buf[:n]
		}()
		w := &wsReader{r: r, p: p, conn: a}
		for rest := wire; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(3000))
			if i == 0 {
				n = min(len(rest), 1)
			}
			if err := w.feed(rest[:n]); err != nil {
				t.Fatalf("split %d: %v", i, err)
			}
			rest = rest[n:]
		}
		if p.frames.Load() != 3 || r.maxSeq.Load() != 4 {
			t.Fatalf("split %d: %d frames, max seq %d", i, p.frames.Load(), r.maxSeq.Load())
		}
		if got := <-pong; len(got) != 2+4+2 || got[0] != 0x8a || got[1] != 0x82 {
			t.Fatalf("pong % x", got)
		}
		a.Close()
		b.Close()
	}
}

func TestWSReaderErrors(t *testing.T) {
	r := &runner{t0: time.Now()}
	w := &wsReader{r: r, p: &player{}}
	if err := w.feed(wsflv.AppendClose(nil, wsflv.CloseNormal, "bye")); !errors.Is(err, errWSClosed) {
		t.Errorf("close: %v", err)
	}
	w = &wsReader{r: r, p: &player{}}
	if err := w.feed([]byte{0x82, 0x81, 1, 2, 3, 4, 5}); err == nil {
		t.Error("masked server frame accepted")
	}
	w = &wsReader{r: r, p: &player{}}
	if err := w.feed([]byte{0x89, 126, 0, 200}); err == nil {
		t.Error("200-byte ping accepted")
	}
	w = &wsReader{r: r, p: &player{}}
	if err := w.feed(wsflv.AppendFrame(nil, wsflv.OpBinary, []byte("not an FLV stream"))); err == nil {
		t.Error("bad FLV accepted")
	}
}
