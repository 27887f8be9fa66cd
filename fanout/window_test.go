package fanout

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
)

// windowClock is a hand-driven hub clock and window timer: a test moves now
// and ends armed windows itself, so a second of media runs in microseconds.
type windowClock struct {
	now   int64
	due   int64 // when the armed window ends (-1: none)
	armed *loopLocal
}

func newWindowHub(t *testing.T, window time.Duration) (*Hub, *testLoop, *windowClock) {
	t.Helper()
	h, l := newTestHub(Config{BatchWindow: window})
	c := &windowClock{due: -1}
	h.clock = func() int64 { return c.now }
	h.arm = func(ll *loopLocal, d time.Duration) { c.armed, c.due = ll, c.now+int64(d) }
	t.Cleanup(h.Close)
	return h, l, c
}

// joined starts a stream with a keyframe, and one subscriber on l that has
// received it; it returns the stream, its publish epoch and the subscriber's
// sink.
func joined(h *Hub, l *testLoop) (*Stream, uint64, *decodeSink) {
	st := h.NewStream(StreamOptions{GOPCache: true})
	epoch := st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	return st, epoch, sink
}

// playingAfterFlush is joined, then one more frame flushed by the loop, so
// the loop has just flushed: the next frame waits for the window.
func playingAfterFlush(h *Hub, l *testLoop) (*Stream, uint64, *decodeSink) {
	st, epoch, sink := joined(h, l)
	st.Publish(chunkcodec.TypeVideo, 33, inter(1)) // the loop was idle: at once
	l.run()
	return st, epoch, sink
}

// advance moves the clock to at, ending the armed window on the way.
func (c *windowClock) advance(at int64) {
	if c.due >= 0 && c.due <= at {
		c.now = c.due
		c.due = -1
		c.armed.fire()
	}
	c.now = at
}

// simulate publishes a second of 30 fps video and 46.875 audio frames per
// second (AAC at 48 kHz) to one subscriber, running the loop as an event loop
// would, and returns the subscriber's writes and the largest delay between a
// message's publish and its write.
func simulate(t *testing.T, window time.Duration) (writes int, worst time.Duration) {
	h, l, c := newWindowHub(t, window)
	st, _, sink := joined(h, l)
	start := sink.writes

	const ms = int64(time.Millisecond)
	video, audioN := int64(1), int64(1)
	var pending []int64 // publish times not yet written
	for c.now < 1000*ms {
		nv := video * 1000 * ms / 30
		na := audioN * 1024 * 1000 * ms / 48000
		next := min(nv, na)
		if c.due >= 0 && c.due < next {
			next = c.due
		}
		before := sink.writes
		c.advance(next)
		switch next {
		case nv:
			st.Publish(chunkcodec.TypeVideo, uint32(nv/ms), inter(uint32(video)))
			video++
			pending = append(pending, c.now)
		case na:
			st.Publish(chunkcodec.TypeAudio, uint32(na/ms), audio(uint32(audioN)))
			audioN++
			pending = append(pending, c.now)
		}
		if next%(100*ms) == 0 {
			h.TickLoop(0)
		}
		l.run()
		if sink.writes > before {
			for _, p := range pending {
				worst = max(worst, time.Duration(c.now-p))
			}
			pending = pending[:0]
		}
	}
	return sink.writes - start, worst
}

// TestWindowWrites: with no window a subscriber gets one write per video
// frame (audio rides with video, and the tick adds none); a window merges
// what arrives within it, so a larger window never makes more writes than a
// smaller one, and no message waits longer than the window (audio: than the
// next video frame, when that is longer).
func TestWindowWrites(t *testing.T) {
	prev := 1 << 30
	for _, w := range []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		writes, worst := simulate(t, w)
		t.Logf("window %v: %d writes in 1 s, longest wait %v", w, writes, worst)
		if w == 0 && (writes < 29 || writes > 30) {
			t.Errorf("window 0: %d writes in a second of 30 fps video, want one per video frame", writes)
		}
		if writes > prev {
			t.Errorf("window %v: %d writes, more than the smaller window's %d", w, writes, prev)
		}
		if limit := max(w, 34*time.Millisecond); worst > limit {
			t.Errorf("window %v: a message waited %v, more than %v", w, worst, limit)
		}
		prev = writes
	}
}

// TestTickFlushesOnlyOverdue: the transport's tick does not flush audio that
// waits for the next video frame; it flushes what waited past the window and
// the grace period. Audio of a stream whose video stopped wakes the loop.
func TestTickFlushesOnlyOverdue(t *testing.T) {
	h, l, c := newWindowHub(t, 0)
	st, _, sink := joined(h, l)
	got := len(sink.msgs)

	const ms = int64(time.Millisecond)
	c.now = 10 * ms
	st.Publish(chunkcodec.TypeAudio, 10, audio(1))
	if len(l.tasks) != 0 {
		t.Fatal("audio right after video woke the loop")
	}
	c.now = 20 * ms
	h.TickLoop(0)
	if len(sink.msgs) != got {
		t.Fatal("the tick flushed audio waiting for the next video frame")
	}
	c.now = 10*ms + int64(tickGrace) + 1
	h.TickLoop(0)
	if len(sink.msgs) != got+1 {
		t.Fatalf("the tick did not flush overdue audio: %d new messages", len(sink.msgs)-got)
	}

	c.now += int64(audioRide) + 1 // video stopped: audio flows on its own
	st.Publish(chunkcodec.TypeAudio, uint32(c.now/ms), audio(2))
	if len(l.tasks) == 0 {
		t.Fatal("audio of a stream whose video stopped did not wake the loop")
	}
	l.run()
	if len(sink.msgs) != got+2 {
		t.Fatal("audio after video stopped was not delivered")
	}
}

// TestWindowControlAtOnce: with a window, media waits for the window's end
// but the end of a stream goes out at once.
func TestWindowControlAtOnce(t *testing.T) {
	h, l, c := newWindowHub(t, 100*time.Millisecond)
	st, epoch, sink := playingAfterFlush(h, l)
	got := len(sink.msgs)
	st.Publish(chunkcodec.TypeVideo, 66, inter(2))
	if len(l.tasks) != 0 || c.due < 0 {
		t.Fatalf("video with a window: %d tasks queued, window armed %v", len(l.tasks), c.due >= 0)
	}
	st.EndPublishAs(epoch, chunkcodec.AppendStreamEOF(nil, 1))
	if len(l.tasks) == 0 {
		t.Fatal("the end of the stream waited for the window")
	}
	l.run()
	if len(sink.msgs) <= got {
		t.Fatal("nothing delivered at the end of the stream")
	}
}

// TestWindowTimerFires: the hub's own timer ends a window (real time, bounded).
func TestWindowTimerFires(t *testing.T) {
	h, l := newTestHub(Config{BatchWindow: 100 * time.Millisecond})
	defer h.Close()
	st, _, sink := playingAfterFlush(h, l)
	got := len(sink.msgs)
	st.Publish(chunkcodec.TypeVideo, 66, inter(2))
	st.Publish(chunkcodec.TypeVideo, 99, inter(3))
	l.mu.Lock()
	queued := len(l.tasks)
	l.mu.Unlock()
	if queued != 0 {
		t.Fatal("frames right after a flush did not wait for the window")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.msgs) < got+2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		l.run()
	}
	if len(sink.msgs) != got+2 || sink.writes == 0 {
		t.Fatalf("window timer: %d of 2 messages delivered", len(sink.msgs)-got)
	}
}

// runOne runs the first queued task, if any, and reports whether it did.
func (l *testLoop) runOne() bool {
	l.mu.Lock()
	if len(l.tasks) == 0 {
		l.mu.Unlock()
		return false
	}
	t := l.tasks[0]
	l.tasks = append(l.tasks[:0], l.tasks[1:]...)
	l.mu.Unlock()
	_ = t.Run(context.Background())
	return true
}

// TestFlushSlices: a flush that runs out of time stops and is queued again,
// so the loop reads its sockets in between; a packet published between
// slices and a subscriber closed between them still leave every other
// subscriber with every packet, in order, once.
func TestFlushSlices(t *testing.T) {
	h, l := newTestHub(Config{})
	var now int64
	h.clock = func() int64 { now += int64(50 * time.Microsecond); return now }
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	const n = 1000
	sinks := make([]*decodeSink, n)
	subs := make([]*Subscriber, n)
	for i := range sinks {
		sinks[i] = newDecodeSink(h.Config().ChunkSize)
		subs[i] = st.Subscribe(l, sinks[i], SubscriberOptions{})
	}
	l.run()

	st.Publish(chunkcodec.TypeVideo, 33, inter(1))
	if !l.runOne() {
		t.Fatal("no flush queued")
	}
	served := 0
	for _, s := range sinks {
		if len(s.msgs) == 2 {
			served++
		}
	}
	if served == 0 || served == n {
		t.Fatalf("first slice served %d of %d subscribers, want some", served, n)
	}
	// Between slices: the publisher's next frame, and a close.
	st.Publish(chunkcodec.TypeVideo, 66, inter(2))
	subs[0].Close()
	slices := 1
	for l.runOne() {
		if slices++; slices > 100 {
			t.Fatal("flush tasks keep coming")
		}
	}
	t.Logf("%d subscribers: %d flush tasks", n, slices)
	for i, s := range sinks[1:] {
		if len(s.msgs) != 3 {
			t.Fatalf("subscriber %d got %d messages, want 3", i+1, len(s.msgs))
		}
		for k, m := range s.msgs {
			if len(m.data) < 6 || binary.BigEndian.Uint32(m.data[len(m.data)-4:]) != uint32(k) {
				t.Fatalf("subscriber %d message %d out of order", i+1, k)
			}
		}
	}
}

// TestCloseStopsWindows: after Close no window timer schedules a flush.
func TestCloseStopsWindows(t *testing.T) {
	h, l := newTestHub(Config{BatchWindow: 200 * time.Millisecond})
	st, _, _ := playingAfterFlush(h, l)
	st.Publish(chunkcodec.TypeVideo, 66, inter(2)) // arms the window
	l.mu.Lock()
	n := len(l.tasks)
	l.mu.Unlock()
	if n != 0 {
		t.Fatal("a frame right after a flush did not wait for the window")
	}
	h.Close()
	time.Sleep(300 * time.Millisecond)
	l.mu.Lock()
	n = len(l.tasks)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d flushes scheduled after Close", n)
	}
}

// TestTickServesFullSocket: a viewer whose socket was full waits for the
// transport's tick (no flush is scheduled for it while nothing new arrives),
// and the tick serves it once its socket has room, with no new packet.
func TestTickServesFullSocket(t *testing.T) {
	h, l, _ := newWindowHub(t, 0)
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, sized(true, 0, 9000))
	sink := &socketSink{room: 1 << 20}
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sink.room = 0
	for i := uint32(1); i <= 3; i++ {
		st.Publish(chunkcodec.TypeVideo, i*33, sized(false, i, 3000))
		l.run()
	}
	sink.drain(1 << 20) // the peer reads: room again, and nothing new published
	l.run()
	before := newDecodeSink(h.Config().ChunkSize)
	before.feed(sink.out)
	if len(before.msgs) >= 4 {
		t.Fatal("the frames behind the full socket went out without a flush")
	}
	h.TickLoop(0)
	dec := newDecodeSink(h.Config().ChunkSize)
	dec.feed(sink.out)
	if len(dec.msgs) != 4 {
		t.Fatalf("after the tick the viewer has %d of 4 frames (%d before)", len(dec.msgs), len(before.msgs))
	}
}

// TestBurstInputAtOnce: a stream whose publisher is read once per window
// (SetBurstInput) delivers each burst at once, even right after a flush and
// for audio that would otherwise ride with the next video frame: the batching
// was done at the read. Only the current publisher's epoch can set it, and a
// new publisher starts without it.
func TestBurstInputAtOnce(t *testing.T) {
	h, l, c := newWindowHub(t, 100*time.Millisecond)
	st, epoch, sink := playingAfterFlush(h, l)
	if !st.SetBurstInput(epoch, true) {
		t.Fatal("SetBurstInput refused the current publisher")
	}
	queued := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.tasks)
	}
	got := len(sink.msgs)
	c.now += int64(time.Millisecond) // 1 ms after the last flush
	st.Publish(chunkcodec.TypeAudio, 40, audio(1))
	if queued() == 0 || c.armed != nil {
		t.Fatal("a burst's audio waited (for the window or for video)")
	}
	st.Publish(chunkcodec.TypeVideo, 66, inter(2))
	l.run()
	if len(sink.msgs) != got+2 {
		t.Fatalf("%d of the burst's 2 messages delivered at once", len(sink.msgs)-got)
	}

	epoch2 := st.BeginPublish()
	if !st.SetBurstInput(epoch2, true) {
		t.Fatal("SetBurstInput refused the new publisher")
	}
	if st.SetBurstInput(epoch, false) {
		t.Error("the replaced publisher turned burst input off for its successor")
	}
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(3))
	l.run()
	c.now += int64(time.Millisecond)
	st.Publish(chunkcodec.TypeVideo, 33, inter(4))
	if queued() != 0 {
		t.Error("a new publisher's stream kept burst input on")
	}
}
