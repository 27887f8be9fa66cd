package fanout

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// socketSink is a DirectSink modelled on netpoll's gnet connection: a socket
// that takes room bytes now, and a queue behind it that copies what the
// socket does not take. drain lets the peer read. out is everything the peer
// received, in order (nothing is kept when discard is set).
type socketSink struct {
	room    int
	out     []byte
	queue   []byte
	maxQ    int // the largest queue seen
	tries   int // TryWritev calls
	closed  bool
	discard bool
}

// put moves the head of b into the socket and returns how much it took.
func (s *socketSink) put(b []byte) int {
	n := min(len(b), s.room)
	if !s.discard {
		s.out = append(s.out, b[:n]...)
	}
	s.room -= n
	return n
}

func (s *socketSink) TryWritev(bufs [][]byte) (int, error) {
	s.tries++
	if len(s.queue) > 0 {
		return 0, nil
	}
	n := 0
	for _, b := range bufs {
		k := s.put(b)
		n += k
		if k < len(b) {
			break
		}
	}
	return n, nil
}

func (s *socketSink) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
		if len(s.queue) == 0 {
			b = b[s.put(b):]
		}
		s.queue = append(s.queue, b...)
	}
	s.maxQ = max(s.maxQ, len(s.queue))
	return n, nil
}

// drain: the peer reads n bytes, and the queue moves into the room it made.
func (s *socketSink) drain(n int) {
	s.room += n
	k := s.put(s.queue)
	s.queue = s.queue[:copy(s.queue, s.queue[k:])]
}

func (s *socketSink) OutboundBuffered() int { return len(s.queue) }
func (s *socketSink) Close() error          { s.closed = true; return nil }

// sized is a video frame of size bytes carrying n after its header.
func sized(keyframe bool, n uint32, size int) []byte {
	b := inter(n)
	if keyframe {
		b = key(n)
	}
	return append(b, make([]byte, size-len(b))...)
}

// counterOf reads the number sized, key and inter put after the video header.
func counterOf(p []byte) uint32 { return binary.BigEndian.Uint32(p[5:]) }

// A viewer whose socket is full gets its backlog from the ring: the transport
// copies at most the rest of one message, and the viewer still receives every
// message whole and in order once it catches up.
func TestDirectSinkQueuesAtMostOneMessage(t *testing.T) {
	h, l := newTestHub(Config{LagBytes: 8 << 20, MaxRingBytes: 16 << 20})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, sized(true, 0, 9000))
	sink := &socketSink{room: 5000}
	sub := st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	const frames = 300
	largest := 9000 + 9000/int(h.Config().ChunkSize) + 16 // the keyframe's wire size, about
	for i := uint32(1); i <= frames; i++ {
		size := 2000 + int(i*977)%7000 // 2000..9000 bytes, several chunks each
		largest = max(largest, size+size/int(h.Config().ChunkSize)+16)
		st.Publish(chunkcodec.TypeVideo, i*40, sized(i%50 == 0, i, size))
		l.run()
		if i%3 == 0 { // a 120 ms batch window
			if i < frames/2 {
				sink.drain(8000) // slower than the stream: falls behind
			} else {
				sink.drain(40000) // catches up
			}
			h.FlushLoop(0)
		}
		if q := sink.OutboundBuffered(); q > largest {
			t.Fatalf("frame %d: %d bytes queued in the transport, more than one message (%d)", i, q, largest)
		}
	}
	for range 100 { // the peer reads everything
		sink.drain(1 << 20)
		h.FlushLoop(0)
		if sub.cursor == st.head.Load() && len(sink.queue) == 0 {
			break
		}
	}
	dec := newDecodeSink(h.Config().ChunkSize)
	dec.feed(sink.out)
	if len(dec.msgs) != frames+2 {
		t.Fatalf("%d messages, want %d", len(dec.msgs), frames+2)
	}
	for i, m := range dec.msgs[2:] {
		if n := counterOf(m.data); n != uint32(i+1) || m.ts != uint32(i+1)*40 {
			t.Fatalf("message %d: frame %d ts %d, want frame %d ts %d", i+2, n, m.ts, i+1, (i+1)*40)
		}
	}
	if sink.maxQ == 0 {
		t.Fatal("the socket was never full: the test did not exercise the partial write")
	}
	if h.Stats().Skips != 0 {
		t.Fatalf("%d skips within the lag allowance", h.Stats().Skips)
	}
}

// While the transport still holds queued bytes, nothing more is written (the
// queue goes first), and a socket that takes nothing trips the stall clock.
func TestDirectSinkStalls(t *testing.T) {
	h, l := newTestHub(Config{StallTimeout: time.Second})
	var now atomic.Int64
	h.clock = func() int64 { return now.Load() }
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, sized(true, 0, 6000))
	sink := &socketSink{room: 1000}
	sub := st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	if sink.tries != 1 || len(sink.queue) == 0 {
		t.Fatalf("join: %d tries, %d bytes queued; want 1 try and the rest of the keyframe queued", sink.tries, len(sink.queue))
	}
	for i := uint32(1); i <= 50 && !sink.closed; i++ {
		now.Add(int64(40 * time.Millisecond))
		st.Publish(chunkcodec.TypeVideo, i*40, sized(false, i, 3000))
		l.run()
	}
	if sink.tries != 1 {
		t.Fatalf("%d TryWritev calls while the transport held queued bytes, want none after the first", sink.tries-1)
	}
	if !sink.closed || !errors.Is(sub.Err(), ErrSlowSubscriber) {
		t.Fatalf("closed=%v err=%v, want closed as slow", sink.closed, sub.Err())
	}
}

// A viewer whose socket stays full until the ring has dropped what it needed
// restarts at a keyframe; what it receives is whole messages throughout.
func TestDirectSinkLappedRestartsAtKeyframe(t *testing.T) {
	h, l := newTestHub(Config{RingSize: 16, GOPMaxFrames: 8})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, sized(true, 0, 5000))
	sink := &socketSink{room: 64 << 10}
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sink.room = 2500 // then the socket is nearly full for 40 frames
	for i := uint32(1); i <= 40; i++ {
		st.Publish(chunkcodec.TypeVideo, i*40, sized(i%10 == 0, i, 5000))
		l.run()
	}
	for range 50 {
		sink.drain(1 << 20)
		h.FlushLoop(0)
	}
	dec := newDecodeSink(h.Config().ChunkSize) // panics on a torn message
	dec.feed(sink.out)
	var got []uint32
	for _, m := range dec.msgs[1:] {
		got = append(got, counterOf(m.data))
	}
	if got[0] != 0 || got[len(got)-1] != 40 {
		t.Fatalf("frames %v: want the first and the last", got)
	}
	skipped := false
	for i := 1; i < len(got); i++ {
		switch {
		case got[i] <= got[i-1]:
			t.Fatalf("frames %v: out of order", got)
		case got[i] != got[i-1]+1:
			skipped = true
			if got[i]%10 != 0 {
				t.Fatalf("frames %v: restarted at %d, not a keyframe", got, got[i])
			}
		}
	}
	if !skipped || h.Stats().Skips == 0 {
		t.Fatalf("frames %v: want a skip to a keyframe", got)
	}
}

// FLV and WebSocket-FLV through a direct sink with partial writes: every tag
// arrives whole, in order, with its timestamp.
func TestDirectSinkFLV(t *testing.T) {
	for _, format := range []Format{FormatFLV, FormatWSFLV} {
		h, l := newTestHub(Config{LagBytes: 8 << 20, MaxRingBytes: 16 << 20})
		st := h.NewStream(StreamOptions{GOPCache: true})
		st.BeginPublish()
		st.Publish(chunkcodec.TypeDataAMF0, 0, []byte("\x02\x00\x0aonMetaData\x05"))
		st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
		st.Publish(chunkcodec.TypeVideo, 0, sized(true, 0, 7000))
		sink := &socketSink{room: 3000}
		st.Subscribe(l, sink, SubscriberOptions{Format: format})
		l.run()
		const frames = 100
		for i := uint32(1); i <= frames; i++ {
			st.Publish(chunkcodec.TypeVideo, i*40, sized(false, i, 1000+int(i*331)%5000))
			l.run()
			sink.drain(2500)
			h.FlushLoop(0)
		}
		for range 100 {
			sink.drain(1 << 20)
			h.FlushLoop(0)
		}
		data := sink.out
		if format == FormatWSFLV {
			data = unframeWS(t, data)
		}
		var r flvmux.Reader
		var ts []uint32
		for p := data; len(p) > 0; {
			n, tag, err := r.Feed(p)
			if err != nil {
				t.Fatalf("format %d: FLV reader: %v", format, err)
			}
			p = p[n:]
			if tag != nil && tag.Type == chunkcodec.TypeVideo {
				ts = append(ts, tag.Timestamp)
			}
		}
		if len(ts) != frames+2 { // sequence header, keyframe, frames
			t.Fatalf("format %d: %d video tags, want %d", format, len(ts), frames+2)
		}
		for i := 2; i < len(ts); i++ {
			if ts[i] != uint32(i-1)*40 {
				t.Fatalf("format %d: tag %d at %d ms, want %d", format, i, ts[i], (i-1)*40)
			}
		}
	}
}
