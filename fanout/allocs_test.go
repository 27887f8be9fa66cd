//go:build !race

package fanout

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
)

// countSink accepts everything and only counts, like a socket that keeps up.
type countSink struct {
	writes, bytes int
}

func (s *countSink) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	s.writes++
	s.bytes += n
	return n, nil
}
func (s *countSink) OutboundBuffered() int { return 0 }
func (s *countSink) Close() error          { return nil }

// setupDeliveryAt returns a stream with subs subscribers of format on a test
// loop, which joined at stream time base (an RTMP player's own timestamps
// then differ from the stream's unless base is 0), and a 4000-byte frame.
func setupDeliveryAt(tb testing.TB, subs int, format Format, base uint32) (*Stream, *testLoop, []byte) {
	h := NewHub(Config{Loops: 1})
	l := &testLoop{tasks: make([]Task, 0, 16)}
	h.AttachLoop(l)
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, base, avcSeq())
	st.Publish(chunkcodec.TypeVideo, base, key(0))
	for range subs {
		st.Subscribe(l, &countSink{}, SubscriberOptions{Format: format})
	}
	l.run()
	frame := make([]byte, 4000) // a 1 Mbps video frame at 30 fps
	copy(frame, inter(1))
	return st, l, frame
}

// TestAllocsDelivery: publishing one message to 1000 subscribers and delivering
// it allocates nothing in steady state.
func TestAllocsDelivery(t *testing.T) {
	for _, format := range []Format{FormatRTMP, FormatFLV, FormatWSFLV} {
		testAllocsDelivery(t, format, 0)
	}
	testAllocsDelivery(t, FormatRTMP, 3_600_000) // players with their own timestamps
}

func testAllocsDelivery(t *testing.T, format Format, base uint32) {
	st, l, frame := setupDeliveryAt(t, 1000, format, base)
	ts := base + 40
	// Warm the packet pool past the ring's retention.
	for range 5000 {
		st.Publish(chunkcodec.TypeVideo, ts, frame)
		l.run()
		ts += 40
	}
	allocs := testing.AllocsPerRun(200, func() {
		st.Publish(chunkcodec.TypeVideo, ts, frame)
		l.run()
		ts += 40
	})
	if allocs != 0 {
		t.Fatalf("format %d: publish + deliver to 1000 subscribers: %v allocs, want 0", format, allocs)
	}
}

// TestAllocsDeliveryDirect: the same through direct sinks whose sockets are
// full at every flush (a partial write, the rest of one message queued, the
// cursor rewound) allocates nothing in fanout either.
func TestAllocsDeliveryDirect(t *testing.T) {
	for _, format := range []Format{FormatRTMP, FormatFLV, FormatWSFLV} {
		h := NewHub(Config{Loops: 1})
		l := &testLoop{tasks: make([]Task, 0, 16)}
		h.AttachLoop(l)
		st := h.NewStream(StreamOptions{GOPCache: true})
		st.BeginPublish()
		st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
		st.Publish(chunkcodec.TypeVideo, 0, key(0))
		sinks := make([]*socketSink, 200)
		for i := range sinks {
			sinks[i] = &socketSink{room: 64 << 10, queue: make([]byte, 0, 1<<20), discard: true}
			st.Subscribe(l, sinks[i], SubscriberOptions{Format: format})
		}
		l.run()
		frame := make([]byte, 4000)
		copy(frame, inter(1))
		ts, n := uint32(40), 0
		step := func() {
			for _, s := range sinks {
				s.drain(3000) // less than a frame: the socket is full at every flush
			}
			frame[0] = 0x27
			if n++; n%30 == 0 { // keyframes bound the GOP the ring retains
				frame[0] = 0x17
			}
			st.Publish(chunkcodec.TypeVideo, ts, frame)
			l.run()
			ts += 40
		}
		for range 1000 { // past the ring's retention: the packet pool is warm
			step()
		}
		partial := sinks[0].maxQ
		if allocs := testing.AllocsPerRun(200, step); allocs != 0 {
			t.Fatalf("format %d: publish + deliver to 200 full sockets: %v allocs, want 0", format, allocs)
		}
		if partial == 0 {
			t.Fatalf("format %d: no partial write", format)
		}
	}
}

// TestAllocsIdleStream: a stream that never had a publisher allocates no ring.
// A name churned by players (NewStream, Subscribe, Close) costs its small structs
// only, far below the 8-byte slots of RingSize packets.
func TestAllocsIdleStream(t *testing.T) {
	h := NewHub(Config{Loops: 1})
	l := &testLoop{tasks: make([]Task, 0, 16)}
	h.AttachLoop(l)
	const n = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		st := h.NewStream(StreamOptions{GOPCache: true})
		sub := st.Subscribe(l, &countSink{}, SubscriberOptions{})
		l.run()
		sub.Close()
		st.Close()
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	if ring := uint64(h.Config().RingSize * 8); per >= ring/8 {
		t.Fatalf("an idle stream allocates %d bytes, want far less than its %d-byte ring", per, ring)
	}
	t.Logf("idle stream: %d bytes", per)
}

// BenchmarkDeliver reports the cost of one packet delivered to one subscriber
// (ns/op is per delivery) for several audience sizes.
func BenchmarkDeliver(b *testing.B) {
	for _, fc := range []struct {
		name string
		f    Format
	}{{"rtmp", FormatRTMP}, {"flv", FormatFLV}, {"wsflv", FormatWSFLV}} {
		for _, n := range []int{1, 100, 1000, 10000} {
			if fc.f != FormatRTMP && n != 1000 {
				continue
			}
			benchDeliver(b, fc.name, fc.f, n, 0)
		}
	}
	// RTMP players that joined an hour into the stream: each gets its own
	// type 0 header (timestamps from its first frame) before the shared chunks.
	for _, n := range []int{100, 1000} {
		benchDeliver(b, "rtmp-joined-late", FormatRTMP, n, 3_600_000)
	}
}

func benchDeliver(b *testing.B, name string, format Format, n int, base uint32) {
	{
		b.Run(fmt.Sprintf("%s/subs=%d", name, n), func(b *testing.B) {
			st, l, frame := setupDeliveryAt(b, n, format, base)
			ts := base + 40
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			delivered := 0
			for delivered < b.N {
				st.Publish(chunkcodec.TypeVideo, ts, frame)
				l.run()
				ts += 40
				delivered += n
			}
		})
	}
}
