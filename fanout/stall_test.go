package fanout

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
)

// fullSocketSink is a transport whose socket stopped taking bytes: whatever is
// written is queued (OutboundBuffered grows), and drain lets some go.
type fullSocketSink struct {
	queued int
	closed bool
}

func (s *fullSocketSink) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	s.queued += n
	return n, nil
}
func (s *fullSocketSink) OutboundBuffered() int { return s.queued }
func (s *fullSocketSink) Close() error          { s.closed = true; return nil }

// A viewer that stops reading is seen as soon as its socket takes nothing,
// not only once its backlog reaches the high watermark: behind a kernel send
// buffer of hundreds of KB that took tens of seconds at a low bitrate.
func TestStallSeenBelowHighWater(t *testing.T) {
	for _, tc := range []struct {
		name     string
		drain    int // bytes the socket takes between flushes
		wantShut bool
	}{
		{"takes nothing", 0, true},
		{"reads slowly, less than it is sent", 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, l := newTestHub(Config{HighWater: 1 << 20, LowWater: 256 << 10, HardCap: 16 << 20, StallTimeout: time.Second})
			var now atomic.Int64
			h.clock = func() int64 { return now.Load() }
			st := h.NewStream(StreamOptions{GOPCache: true})
			st.BeginPublish()
			st.Publish(chunkcodec.TypeVideo, 0, key(0))
			sink := &fullSocketSink{}
			sub := st.Subscribe(l, sink, SubscriberOptions{})
			l.run()
			for i := uint32(1); i <= 100; i++ { // 4 s of frames, a few KB queued in all
				now.Add(int64(40 * time.Millisecond))
				sink.queued = max(sink.queued-tc.drain, 0)
				st.Publish(chunkcodec.TypeVideo, i*40, inter(i))
				l.run()
			}
			if sink.closed != tc.wantShut {
				t.Fatalf("closed = %v with %d bytes queued (under the %d low mark), want %v", sink.closed, sink.queued, 256<<10, tc.wantShut)
			}
			if tc.wantShut && sub.Err() != ErrSlowSubscriber {
				t.Fatalf("err = %v", sub.Err())
			}
		})
	}
}
