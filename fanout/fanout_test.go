package fanout

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// testLoop queues tasks; the test runs them, as an event loop would.
type testLoop struct {
	idx   int
	mu    sync.Mutex
	tasks []Task
}

func (l *testLoop) Index() int { return l.idx }
func (l *testLoop) Execute(t Task) error {
	l.mu.Lock()
	l.tasks = append(l.tasks, t)
	l.mu.Unlock()
	return nil
}

// run executes queued tasks until none remain.
func (l *testLoop) run() {
	for {
		l.mu.Lock()
		if len(l.tasks) == 0 {
			l.mu.Unlock()
			return
		}
		t := l.tasks[0]
		copy(l.tasks, l.tasks[1:])
		l.tasks = l.tasks[:len(l.tasks)-1]
		l.mu.Unlock()
		_ = t.Run(context.Background())
	}
}

// recvMsg is what a test sink decoded.
type recvMsg struct {
	typeID uint8
	ts     uint32
	data   []byte
}

// decodeSink decodes everything written to it as RTMP chunks.
type decodeSink struct {
	dec      *chunkcodec.Decoder
	msgs     []recvMsg
	queued   int // pretend bytes queued in the transport
	closed   bool
	writes   int
	bytes    int
	noDecode bool
}

func newDecodeSink(chunk uint32) *decodeSink {
	s := &decodeSink{dec: chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})}
	s.feed(chunkcodec.AppendSetChunkSize(nil, chunk))
	return s
}

func (s *decodeSink) feed(p []byte) {
	for len(p) > 0 {
		n, m, err := s.dec.Feed(p)
		if err != nil {
			panic(err)
		}
		p = p[n:]
		if m != nil && m.TypeID != chunkcodec.TypeSetChunkSize {
			s.msgs = append(s.msgs, recvMsg{m.TypeID, m.Timestamp, append([]byte(nil), m.Payload...)})
		}
	}
}

func (s *decodeSink) Writev(bufs [][]byte) (int, error) {
	n := 0
	s.writes++
	for _, b := range bufs {
		n += len(b)
		if !s.noDecode {
			s.feed(b)
		}
	}
	s.bytes += n
	return n, nil
}
func (s *decodeSink) OutboundBuffered() int { return s.queued }
func (s *decodeSink) Close() error          { s.closed = true; return nil }

// Payload builders: FLV-style audio/video bodies with a counter after the header.
func avcSeq() []byte { return []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f} }
func aacSeq() []byte { return []byte{0xaf, 0, 0x12, 0x10} }
func key(n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{0x17, 1, 0, 0, 0}, n)
}
func inter(n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{0x27, 1, 0, 0, 0}, n)
}
func audio(n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{0xaf, 1}, n) }

func newTestHub(cfg Config) (*Hub, *testLoop) {
	cfg.Loops = 1
	h := NewHub(cfg)
	l := &testLoop{}
	h.AttachLoop(l)
	return h, l
}

func TestJoinStartsAtGOP(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeDataAMF0, 0, []byte("\x02\x00\x0aonMetaData"))
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeAudio, 0, aacSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(1))
	st.Publish(chunkcodec.TypeVideo, 40, inter(2))
	st.Publish(chunkcodec.TypeVideo, 80, key(3))
	st.Publish(chunkcodec.TypeAudio, 90, audio(4))
	st.Publish(chunkcodec.TypeVideo, 120, inter(5))

	sink := newDecodeSink(h.Config().ChunkSize)
	sub := st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	want := []struct {
		typ uint8
		ts  uint32
	}{{18, 0}, {9, 0}, {8, 0}, {9, 0}, {8, 10}, {9, 40}} // the player's timestamps start at its first frame
	if len(sink.msgs) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(sink.msgs), len(want), sink.msgs)
	}
	for i, w := range want {
		if m := sink.msgs[i]; m.typeID != w.typ || m.ts != w.ts {
			t.Errorf("msg %d: type %d ts %d, want type %d ts %d", i, m.typeID, m.ts, w.typ, w.ts)
		}
	}
	if sink.writes != 1 {
		t.Errorf("join took %d writes, want 1 merged write", sink.writes)
	}
	// Live delivery continues in order, merged per flush.
	st.Publish(chunkcodec.TypeVideo, 160, inter(6))
	st.Publish(chunkcodec.TypeAudio, 170, audio(7))
	l.run()
	if n := len(sink.msgs); n != 8 || sink.msgs[7].ts != 170-80 {
		t.Fatalf("live delivery: %d msgs, last %+v", n, sink.msgs[n-1])
	}
	if sink.writes != 2 {
		t.Errorf("two packets in one batch took %d writes, want 1", sink.writes-1)
	}
	sub.Close()
	if st.Subscribers() != 0 {
		t.Fatal("subscriber count not zero after Close")
	}
}

func TestNoGOPCacheWaitsForKeyframe(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: false})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(1))
	st.Publish(chunkcodec.TypeVideo, 40, inter(2))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	st.Publish(chunkcodec.TypeVideo, 80, inter(3))
	l.run()
	if len(sink.msgs) != 0 {
		t.Fatalf("got %d messages before a keyframe", len(sink.msgs))
	}
	st.Publish(chunkcodec.TypeVideo, 120, key(4))
	l.run()
	if len(sink.msgs) != 2 || sink.msgs[0].ts != 0 || sink.msgs[1].ts != 0 { // the keyframe is the player's time 0
		t.Fatalf("want sequence header then keyframe, got %+v", sink.msgs)
	}
}

func TestAudioOnlyJoinsAtOnce(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeAudio, 0, aacSeq())
	for i := range uint32(100) {
		st.Publish(chunkcodec.TypeAudio, i*23, audio(i))
	}
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	if len(sink.msgs) != 2 || sink.msgs[0].typeID != 8 || sink.msgs[1].ts != 0 || !bytes.Equal(sink.msgs[1].data, audio(99)) {
		t.Fatalf("audio-only join: want seq header + newest frame, got %d msgs", len(sink.msgs))
	}
	if st.ringBytes > 64<<10 {
		t.Fatalf("ring holds %d bytes", st.ringBytes)
	}
}

func TestSlowSubscriberSkipsToKeyframe(t *testing.T) {
	h, l := newTestHub(Config{HighWater: 1000, LowWater: 100, HardCap: 1 << 20})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sink.queued = 5000 // the socket stops draining
	for i := uint32(1); i < 10; i++ {
		st.Publish(chunkcodec.TypeVideo, i*40, inter(i))
		l.run()
	}
	got := len(sink.msgs)
	st.Publish(chunkcodec.TypeVideo, 400, key(10))
	st.Publish(chunkcodec.TypeVideo, 440, inter(11))
	sink.queued = 0 // drained
	st.Publish(chunkcodec.TypeVideo, 480, inter(12))
	l.run()
	rest := sink.msgs[got:]
	if len(rest) != 3 || rest[0].ts != 400 {
		t.Fatalf("after draining want keyframe at 400 then 2 frames, got %+v", rest)
	}
	if h.Stats().Skips == 0 {
		t.Fatal("skip not counted")
	}
}

func TestHardCapDisconnects(t *testing.T) {
	h, l := newTestHub(Config{HighWater: 1000, LowWater: 100, HardCap: 4000})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	sub := st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sink.queued = 5000
	st.Publish(chunkcodec.TypeVideo, 40, inter(1))
	l.run()
	if !sink.closed || !errors.Is(sub.Err(), ErrSlowSubscriber) || st.Subscribers() != 0 {
		t.Fatalf("closed=%v err=%v subs=%d", sink.closed, sub.Err(), st.Subscribers())
	}
	if h.Stats().SlowDisconnects != 1 {
		t.Fatal("slow disconnect not counted")
	}
}

func TestStallTimeoutDisconnects(t *testing.T) {
	h, l := newTestHub(Config{HighWater: 1000, LowWater: 100, HardCap: 1 << 20, StallTimeout: time.Second})
	var now atomic.Int64
	h.clock = func() int64 { return now.Load() }
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sink.queued = 2000
	st.Publish(chunkcodec.TypeVideo, 40, inter(1))
	l.run()
	now.Store(int64(2 * time.Second))
	st.Publish(chunkcodec.TypeVideo, 80, inter(2))
	l.run()
	if !sink.closed {
		t.Fatal("stalled subscriber not closed")
	}
}

func TestLappedSubscriberResyncs(t *testing.T) {
	h, l := newTestHub(Config{RingSize: 16, GOPMaxFrames: 8})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	sub := st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	sub.SetPaused(true)
	for i := uint32(1); i < 40; i++ {
		p := inter(i)
		if i%10 == 0 {
			p = key(i)
		}
		st.Publish(chunkcodec.TypeVideo, i*40, p)
	}
	l.run()
	n := len(sink.msgs)
	sub.SetPaused(false)
	l.run()
	rest := sink.msgs[n:]
	if len(rest) == 0 || rest[0].ts != 30*40 || binary.BigEndian.Uint32(rest[0].data[5:]) != 30 {
		t.Fatalf("resumed subscriber should restart at keyframe 30, got %d msgs, first %+v", len(rest), rest)
	}
}

func TestRepublishTimestampsContinue(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 1000, key(0))
	st.Publish(chunkcodec.TypeVideo, 5000, inter(1))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	st.EndPublish(chunkcodec.AppendStreamEOF(nil, 1))
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(2))
	st.Publish(chunkcodec.TypeVideo, 40, inter(3))
	l.run()
	var last uint32
	sawEOF := false
	for _, m := range sink.msgs {
		if m.typeID == chunkcodec.TypeUserControl {
			sawEOF = true
			continue
		}
		if m.ts < last {
			t.Fatalf("timestamp went back from %d to %d: %+v", last, m.ts, sink.msgs)
		}
		last = m.ts
	}
	if !sawEOF || last < 5040-1000 { // from the player's first frame (A's keyframe at 1000)
		t.Fatalf("eof=%v last ts %d: %+v", sawEOF, last, sink.msgs)
	}
}

func TestReceiveFilters(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{NoVideo: true})
	st.Publish(chunkcodec.TypeAudio, 10, audio(1))
	st.Publish(chunkcodec.TypeVideo, 40, inter(2))
	l.run()
	for _, m := range sink.msgs {
		if m.typeID == chunkcodec.TypeVideo {
			t.Fatal("video delivered to a receiveVideo(false) subscriber")
		}
	}
	if len(sink.msgs) != 1 {
		t.Fatalf("want 1 audio message, got %d", len(sink.msgs))
	}
}

// TestConcurrentLoops runs a publisher and two loops on separate goroutines with
// subscribers joining and leaving, on a tiny ring so packets are recycled
// constantly. Every delivered packet must carry its own content in order: a
// recycled buffer read by mistake would show up as a wrong or repeated counter.
func TestConcurrentLoops(t *testing.T) {
	h := NewHub(Config{Loops: 2, RingSize: 32, GOPMaxFrames: 16})
	loops := []*testLoop{{idx: 0}, {idx: 1}}
	for _, l := range loops {
		h.AttachLoop(l)
	}
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())

	const frames = 3000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 4)
	for li, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var subs []*Subscriber
			var sinks []*decodeSink
			for i := 0; ; i++ {
				select {
				case <-done:
					l.run()
					for si, s := range sinks {
						if err := checkCounters(s.msgs); err != nil {
							errc <- fmt.Errorf("loop %d sink %d: %w", li, si, err)
							return
						}
						subs[si].Close()
					}
					return
				default:
				}
				if i%50 == 0 && len(subs) < 20 {
					s := newDecodeSink(h.Config().ChunkSize)
					subs = append(subs, st.Subscribe(l, s, SubscriberOptions{}))
					sinks = append(sinks, s)
				}
				l.run()
				time.Sleep(time.Microsecond * 50)
			}
		}()
	}
	for i := uint32(1); i <= frames; i++ {
		p := inter(i)
		if i%10 == 0 {
			p = key(i)
		}
		st.Publish(chunkcodec.TypeVideo, i*40, p)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	st.Close()
}

// checkCounters verifies that media counters increase and timestamps match
// them (from the player's first frame, which is its time 0).
func checkCounters(msgs []recvMsg) error {
	var last, first, firstTS uint32
	for _, m := range msgs {
		if m.typeID != chunkcodec.TypeVideo || len(m.data) != 9 || m.data[1] == 0 {
			continue
		}
		n := binary.BigEndian.Uint32(m.data[5:])
		if n <= last && last != 0 {
			return fmt.Errorf("counter %d after %d", n, last)
		}
		if first == 0 {
			first, firstTS = n, m.ts
		}
		if m.ts-firstTS != (n-first)*40 {
			return fmt.Errorf("packet %d carries timestamp %d: corrupted", n, m.ts)
		}
		last = n
	}
	return nil
}

// rawSink keeps every byte written to it.
type rawSink struct {
	buf    []byte
	closed bool
	eos    bool
}

func (s *rawSink) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		s.buf = append(s.buf, b...)
		n += len(b)
	}
	return n, nil
}
func (s *rawSink) OutboundBuffered() int { return 0 }
func (s *rawSink) Close() error          { s.closed = true; return nil }
func (s *rawSink) EndOfStream()          { s.eos = true }

// unframeWS strips unmasked server WebSocket frame headers, checking each frame.
func unframeWS(t *testing.T, b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		if b[0] != 0x82 {
			t.Fatalf("frame opcode byte %#x, want 0x82", b[0])
		}
		n, h := int(b[1]), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		out = append(out, b[h:h+n]...)
		b = b[h+n:]
	}
	return out
}

func TestFLVSubscribers(t *testing.T) {
	for _, format := range []Format{FormatFLV, FormatWSFLV} {
		h, l := newTestHub(Config{})
		st := h.NewStream(StreamOptions{GOPCache: true})
		st.BeginPublish()
		st.Publish(chunkcodec.TypeDataAMF0, 0, []byte("\x02\x00\x0aonMetaData\x05"))
		st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
		st.Publish(chunkcodec.TypeAudio, 0, aacSeq())
		st.Publish(chunkcodec.TypeVideo, 5000, key(1))
		st.Publish(chunkcodec.TypeAudio, 5010, audio(2))
		sink := &rawSink{}
		st.Subscribe(l, sink, SubscriberOptions{Format: format})
		st.Publish(chunkcodec.TypeVideo, 5040, inter(3))
		l.run()
		st.EndPublish(chunkcodec.AppendStreamEOF(nil, 1))
		l.run()

		data := sink.buf
		if format == FormatWSFLV {
			data = unframeWS(t, data)
		}
		r := flvmux.Reader{}
		var tags []flvmux.TagHeader
		for p := data; len(p) > 0; {
			n, tag, err := r.Feed(p)
			if err != nil {
				t.Fatalf("format %d: FLV reader: %v", format, err)
			}
			p = p[n:]
			if tag != nil {
				tags = append(tags, tag.TagHeader)
			}
		}
		fh, ok := r.Header()
		if !ok || !fh.HasAudio || !fh.HasVideo {
			t.Fatalf("format %d: file header %+v ok=%v", format, fh, ok)
		}
		wantTS := []uint32{0, 0, 0, 0, 10, 40}
		wantType := []uint8{18, 9, 8, 9, 8, 9}
		if len(tags) != len(wantTS) {
			t.Fatalf("format %d: %d tags, want %d: %+v", format, len(tags), len(wantTS), tags)
		}
		for i := range tags {
			if tags[i].Timestamp != wantTS[i] || tags[i].Type != wantType[i] {
				t.Errorf("format %d tag %d: type %d ts %d, want type %d ts %d", format, i, tags[i].Type, tags[i].Timestamp, wantType[i], wantTS[i])
			}
		}
		if !sink.eos || st.Subscribers() != 0 {
			t.Errorf("format %d: end of stream not signalled (eos=%v subs=%d)", format, sink.eos, st.Subscribers())
		}
	}
}

// TestWaitingSubscriberGetsControl: a subscriber waiting for its first keyframe
// skips media but still receives the server's control packets, and an FLV
// subscriber (a recording) still sees the end of stream.
func TestWaitingSubscriberGetsControl(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: false})
	rtmp := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, rtmp, SubscriberOptions{})
	flv := &rawSink{}
	st.Subscribe(l, flv, SubscriberOptions{Format: FormatFLV})
	l.run()
	st.BeginPublish()
	st.PublishControl(chunkcodec.AppendStreamBegin(nil, 1))
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 40, inter(1)) // no keyframe yet
	l.run()
	st.EndPublish(chunkcodec.AppendStreamEOF(nil, 1))
	l.run()
	var events []uint16
	for _, m := range rtmp.msgs {
		if m.typeID == chunkcodec.TypeUserControl {
			uc, _ := chunkcodec.ParseUserControl(m.data)
			events = append(events, uc.Event)
		} else {
			t.Errorf("media delivered before a keyframe: type %d ts %d", m.typeID, m.ts)
		}
	}
	if len(events) != 2 || events[0] != chunkcodec.EventStreamBegin || events[1] != chunkcodec.EventStreamEOF {
		t.Fatalf("control events %v, want [StreamBegin StreamEOF]", events)
	}
	if !flv.eos || st.Subscribers() != 1 {
		t.Fatalf("FLV subscriber: eos=%v subscribers=%d (want the RTMP one left)", flv.eos, st.Subscribers())
	}
}

// TestAudioRidesWithVideo: with no batch window, audio of a stream with video
// does not wake the loop; it is written with the next video packet in one
// writev. Audio-only streams and video wake it at once.
func TestAudioRidesWithVideo(t *testing.T) {
	h, l := newTestHub(Config{})
	st, _, sink := joined(h, l)
	writes := sink.writes
	st.Publish(chunkcodec.TypeAudio, 10, audio(1))
	if len(l.tasks) != 0 {
		t.Fatal("audio of a stream with video woke the loop")
	}
	st.Publish(chunkcodec.TypeVideo, 40, inter(2))
	l.run()
	if sink.writes != writes+1 || len(sink.msgs) != 3 {
		t.Fatalf("want audio and video in one write: %d writes, %d msgs", sink.writes-writes, len(sink.msgs))
	}
	// FlushLoop flushes audio that is still waiting.
	st.Publish(chunkcodec.TypeAudio, 50, audio(3))
	h.FlushLoop(0)
	if len(sink.msgs) != 4 {
		t.Fatalf("tick did not flush waiting audio: %d msgs", len(sink.msgs))
	}

	audioOnly := h.NewStream(StreamOptions{GOPCache: true})
	audioOnly.BeginPublish()
	audioOnly.Publish(chunkcodec.TypeAudio, 0, audio(0))
	asink := newDecodeSink(h.Config().ChunkSize)
	audioOnly.Subscribe(l, asink, SubscriberOptions{})
	audioOnly.Publish(chunkcodec.TypeAudio, 23, audio(1))
	if len(l.tasks) == 0 {
		t.Fatal("audio-only stream did not wake the loop")
	}
	l.run()
}

// TestRepublishContinuesOneFrameLater: a new publisher's first frame comes one
// frame step (40 ms at 25 fps) after the last message out, not 1 ms after,
// which a player that rounds to the frame rate would see as two frames in
// one slot.
func TestRepublishContinuesOneFrameLater(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	epoch := st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(0))
	st.Publish(chunkcodec.TypeVideo, 40, inter(1))
	st.Publish(chunkcodec.TypeVideo, 80, inter(2))
	st.Publish(chunkcodec.TypeAudio, 90, audio(1))
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	st.SuspendPublishAs(epoch, nil)
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(3))
	l.run()
	var frames []uint32
	for _, m := range sink.msgs {
		if m.typeID == chunkcodec.TypeVideo && len(m.data) > 1 && m.data[1] == 1 {
			frames = append(frames, m.ts)
		}
	}
	if len(frames) != 4 || frames[3] != 90+40 {
		t.Fatalf("video frame timestamps %v, want the new publisher's keyframe at 130 (one 40 ms step after the last message at 90)", frames)
	}
}
