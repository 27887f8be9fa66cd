//go:build !race

package main

import (
	"io"
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/wsflv"
)

// The players' per-message work must not allocate: thousands of players
// receive tens of messages per second each.
func TestPlayerReadAllocs(t *testing.T) {
	r := &runner{t0: time.Now()}
	r.measuring.Store(true)
	p := &player{id: 3}
	frame := legacyFrame(time.Now().UnixNano(), 1)
	stamp := make([]byte, 0, 64)

	if n := testing.AllocsPerRun(100, func() {
		stamp = AppendStamp(stamp[:0], 1, 2)
		r.onVideo(p, frame, 2)
	}); n != 0 {
		t.Errorf("AppendStamp + onVideo: %v allocs", n)
	}

	// An FLV stream (header, then tags) in WebSocket frames, fed in pieces.
	flv := flvmux.AppendFileHeader(nil, true, true)
	body := flvmux.AppendTag(nil, flvmux.TagVideo, 40, frame)
	body = flvmux.AppendTag(body, flvmux.TagAudio, 40, []byte{0xaf, 1, 2, 3})
	head := wsflv.AppendFrame(nil, wsflv.OpBinary, flv)
	var wire []byte
	for range 4 {
		wire = wsflv.AppendFrame(wire, wsflv.OpBinary, body)
	}
	w := &wsReader{r: r, p: p}
	if err := w.feed(head); err != nil {
		t.Fatal(err)
	}
	feed := func() {
		for b := wire; len(b) > 0; {
			n := min(len(b), 7) // small pieces split headers and payloads
			if err := w.feed(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	}
	feed() // warm up the FLV reader's buffer
	before := p.frames.Load()
	if n := testing.AllocsPerRun(50, feed); n != 0 {
		t.Errorf("wsReader.feed: %v allocs", n)
	}
	if got := p.frames.Load() - before; got != 4*51 {
		t.Errorf("%d frames counted, want %d", got, 4*51)
	}
}

// Paced reading adds nothing per read: the ticker, the socket probes and
// the paced connection's read.
func TestPacedReadAllocs(t *testing.T) {
	a, b := loopbackPair(t)
	probe, err := newSockProbe(a)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pacedConn{Conn: a, probe: probe, tick: readTicker{interval: time.Nanosecond}}
	arm(pc)
	msg := make([]byte, 100)
	buf := make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := b.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := probe.received(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(pc, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := probe.readable(); err != nil {
			t.Fatal(err)
		}
		pc.tick.wait()
	}); n != 0 {
		t.Errorf("paced read: %v allocs", n)
	}
}

// A read through an rxConn (recvmsg and its stamp) does not allocate.
func TestRxReadAllocs(t *testing.T) {
	a, b := loopbackPair(t)
	c, err := newRxConn(a)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 100)
	buf := make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := b.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("rxConn read: %v allocs", n)
	}
}
