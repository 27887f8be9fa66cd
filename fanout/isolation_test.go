package fanout

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// Item 1: a packet recycled by another stream with the same sequence number is
// never acquired by a reader of the first stream.

// TestStaleReaderRefusesOtherStreamsPacket simulates the preemption directly: a
// reader loads a packet pointer from stream A's ring and is preempted; A recycles
// the packet; stream B takes the same *Packet as its entry with the same sequence
// number (what newPacket does after a pool Get). The reader's try-retain must fail.
func TestStaleReaderRefusesOtherStreamsPacket(t *testing.T) {
	h, _ := newTestHub(Config{})
	a := h.NewStream(StreamOptions{})
	b := h.NewStream(StreamOptions{})
	a.BeginPublish()
	b.BeginPublish()
	a.Publish(chunkcodec.TypeVideo, 0, key(1))
	const seq = 0
	p := a.slots[seq&a.mask].Load() // the reader's load; then it is preempted

	// A recycles it: out of the ring, last reference gone (as Release does, but
	// kept out of the pool so that no other test can get it).
	a.wmu.Lock()
	a.slots[seq&a.mask].Store(nil)
	a.ringBytes -= p.heldBytes()
	a.wmu.Unlock()
	if p.refs.Add(-1) != 0 {
		t.Fatal("packet still referenced")
	}
	p.seq.Store(invalidSeq)
	p.owner.Store(noOwner)

	// B acquires it from the pool as its own entry 0.
	if b.head.Load() != seq {
		t.Fatalf("stream B at seq %d, want %d", b.head.Load(), seq)
	}
	p.init(b.id, seq)

	if p.tryRetain(a.id, seq) {
		t.Fatal("reader of stream A acquired stream B's packet with the same sequence number")
	}
	if !p.tryRetain(b.id, seq) {
		t.Fatal("reader of stream B could not acquire its own packet")
	}
	p.Release()
	p.Release() // B's reference: back to the pool
	a.Close()
	b.Close()
}

// TestStaleReaderAcrossStreamsPool drives the same interleaving through the real
// pool: streams A and B publish in lockstep, each retaining only its newest
// packet, until B's Publish gets back the packet A just recycled (sync.Pool may
// not hand it back, especially under -race; the test retries a bounded number
// of times and skips if it never does).
func TestStaleReaderAcrossStreamsPool(t *testing.T) {
	h, _ := newTestHub(Config{LagBytes: 1}) // keep only the newest packet
	a := h.NewStream(StreamOptions{})
	b := h.NewStream(StreamOptions{})
	a.BeginPublish()
	b.BeginPublish()
	frameA := key(0xAAAA)
	frameB := key(0xBBBB)
	hits := 0
	for try := range 1000 {
		ts := uint32(try) * 40
		seq := a.head.Load()
		if b.head.Load() != seq {
			t.Fatalf("streams out of lockstep: %d vs %d", seq, b.head.Load())
		}
		a.Publish(chunkcodec.TypeVideo, ts, frameA)
		p := a.slots[seq&a.mask].Load() // reader's load, then preempted
		a.Publish(chunkcodec.TypeVideo, ts+1, frameA)
		if a.slots[seq&a.mask].Load() != nil {
			t.Fatal("stream A did not recycle its old packet")
		}
		b.Publish(chunkcodec.TypeVideo, ts, frameB) // B's entry seq
		if b.slots[seq&b.mask].Load() == p {
			hits++
			if p.tryRetain(a.id, seq) {
				payload := append([]byte(nil), p.Payload...)
				p.Release()
				t.Fatalf("reader of stream A acquired stream B's packet (payload %x)", payload)
			}
		}
		b.Publish(chunkcodec.TypeVideo, ts+1, frameB)
		if hits >= 20 {
			break
		}
	}
	a.Close()
	b.Close()
	if hits == 0 {
		t.Skip("the pool never handed stream A's packet to stream B")
	}
}

// TestStreamsShareNoBytes runs two streams on tiny rings with a publisher each
// and subscribers on two loops: every delivered message must carry its own
// stream's marker.
func TestStreamsShareNoBytes(t *testing.T) {
	h := NewHub(Config{Loops: 2, RingSize: 8, GOPMaxFrames: 4, LagBytes: 1})
	loops := []*testLoop{{idx: 0}, {idx: 1}}
	for _, l := range loops {
		h.AttachLoop(l)
	}
	streams := []*Stream{h.NewStream(StreamOptions{GOPCache: true}), h.NewStream(StreamOptions{GOPCache: true})}
	const frames = 1500
	var pubs, readers sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 8)
	for si, st := range streams {
		st.BeginPublish()
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for i := uint32(1); i <= frames; i++ {
				f := binary.BigEndian.AppendUint32([]byte{0x17, 1, 0, 0, 0}, i)
				f = append(f, byte(si), byte(si), byte(si), byte(si))
				st.Publish(chunkcodec.TypeVideo, i*40, f)
			}
		}()
	}
	for _, l := range loops {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var sinks []*decodeSink
			var subs []*Subscriber
			var which []int
			for i := 0; ; i++ {
				select {
				case <-done:
					l.run()
					for k, s := range sinks {
						for _, m := range s.msgs {
							if len(m.data) != 13 || m.data[9] != byte(which[k]) || m.data[12] != byte(which[k]) {
								errc <- fmt.Errorf("subscriber of stream %d got %x", which[k], m.data)
								break
							}
						}
						subs[k].Close()
					}
					return
				default:
				}
				if i%20 == 0 && len(subs) < 10 {
					si := len(subs) % 2
					s := newDecodeSink(h.Config().ChunkSize)
					subs = append(subs, streams[si].Subscribe(l, s, SubscriberOptions{}))
					sinks = append(sinks, s)
					which = append(which, si)
				}
				l.run()
			}
		}()
	}
	pubs.Wait()
	close(done)
	readers.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, st := range streams {
		st.Close()
	}
}

// Item 2: publish epochs.

func TestPublishAsRefusesOldEpoch(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})

	e1 := st.BeginPublish()
	if _, err := st.PublishAs(e1, chunkcodec.TypeVideo, 0, key(1)); err != nil {
		t.Fatalf("current publisher refused: %v", err)
	}
	l.run()
	e2 := st.BeginPublish()
	if e2 == e1 {
		t.Fatalf("two BeginPublish calls returned the same epoch %d", e1)
	}
	head := st.head.Load()
	if f, err := st.PublishAs(e1, chunkcodec.TypeVideo, 40, key(2)); !errors.Is(err, ErrNotPublisher) || f != 0 {
		t.Fatalf("replaced publisher: flags %v err %v, want ErrNotPublisher", f, err)
	}
	if st.head.Load() != head {
		t.Fatal("refused message was published")
	}
	if st.EndPublishAs(e1, chunkcodec.AppendStreamEOF(nil, 1)) || !st.Publishing() || st.head.Load() != head {
		t.Fatal("replaced publisher ended the new publisher's session")
	}
	if f, err := st.PublishAs(e2, chunkcodec.TypeVideo, 0, key(3)); err != nil || f&FlagKey == 0 {
		t.Fatalf("new publisher: flags %v err %v", f, err)
	}
	l.run()
	if !st.EndPublishAs(e2, chunkcodec.AppendStreamEOF(nil, 1)) || st.Publishing() {
		t.Fatal("current publisher could not end its session")
	}
	if _, err := st.PublishAs(e2, chunkcodec.TypeVideo, 40, key(4)); !errors.Is(err, ErrNotPublisher) {
		t.Fatalf("publish after EndPublishAs: err %v, want ErrNotPublisher", err)
	}
	l.run()
	var counters []uint32
	for _, m := range sink.msgs {
		if m.typeID == chunkcodec.TypeVideo {
			counters = append(counters, binary.BigEndian.Uint32(m.data[5:]))
		}
	}
	if fmt.Sprint(counters) != "[1 3]" {
		t.Fatalf("player got frames %v, want [1 3]", counters)
	}
	st.Close()
}

// TestPublishAsConcurrent: an old publisher keeps publishing while a new one
// takes over on another goroutine; a subscriber on a third never sees a frame of
// the old publisher after one of the new.
func TestPublishAsConcurrent(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	sink := newDecodeSink(h.Config().ChunkSize)
	sub := st.Subscribe(l, sink, SubscriberOptions{})

	frame := func(who byte, n uint32) []byte {
		return binary.BigEndian.AppendUint32([]byte{0xaf, 1, who}, n) // audio-only: every frame is a sync point
	}
	e1 := st.BeginPublish()
	started := make(chan struct{}) // the old publisher has published 100 frames
	begun := make(chan struct{})   // the new publisher's BeginPublish has returned
	var pub, loop sync.WaitGroup
	var oldErr error
	pub.Add(1)
	loop.Add(1)
	go func() { // the old publisher
		defer pub.Done()
		for n := uint32(0); ; n++ {
			if n == 100 {
				close(started)
			}
			replaced := false
			select {
			case <-begun:
				replaced = true
			default:
			}
			_, err := st.PublishAs(e1, chunkcodec.TypeAudio, n, frame('A', n))
			if err != nil || replaced {
				// A call made after the new BeginPublish returned must be refused.
				oldErr = err
				if n < 100 {
					close(started)
				}
				return
			}
		}
	}()
	stop := make(chan struct{})
	go func() { // the loop
		defer loop.Done()
		for {
			select {
			case <-stop:
				return
			default:
				l.run()
			}
		}
	}()
	<-started
	e2 := st.BeginPublish()
	close(begun)
	for n := uint32(0); n < 200; n++ {
		if _, err := st.PublishAs(e2, chunkcodec.TypeAudio, n, frame('B', n)); err != nil {
			t.Fatalf("new publisher refused: %v", err)
		}
	}
	pub.Wait()
	close(stop)
	loop.Wait()
	if !errors.Is(oldErr, ErrNotPublisher) {
		t.Fatalf("old publisher ended with %v, want ErrNotPublisher", oldErr)
	}
	l.run()
	sawB := false
	for _, m := range sink.msgs {
		switch m.data[2] {
		case 'B':
			sawB = true
		case 'A':
			if sawB {
				t.Fatalf("a frame of the replaced publisher arrived after the new one began")
			}
		}
	}
	if !sawB {
		t.Fatal("no frame of the new publisher delivered")
	}
	sub.Close()
	st.Close()
}

// Item 3: FLV timestamps with serial arithmetic.

// flvTags parses what an FLV or WebSocket-FLV subscriber received.
func flvTags(t *testing.T, format Format, b []byte) []flvmux.TagHeader {
	t.Helper()
	if format == FormatWSFLV {
		b = unframeWS(t, b)
	}
	var r flvmux.Reader
	var tags []flvmux.TagHeader
	for len(b) > 0 {
		n, tag, err := r.Feed(b)
		if err != nil {
			t.Fatalf("format %d: FLV reader: %v", format, err)
		}
		if n == 0 {
			t.Fatalf("format %d: %d trailing bytes", format, len(b))
		}
		b = b[n:]
		if tag != nil {
			tags = append(tags, tag.TagHeader)
		}
	}
	return tags
}

// TestFLVTimestampsPastWrap: source timestamps cross 2^31 and 2^32 ms, and the
// subscriber's own timeline passes 2^31 ms; FLV tag timestamps keep increasing.
func TestFLVTimestampsPastWrap(t *testing.T) {
	for _, format := range []Format{FormatFLV, FormatWSFLV} {
		h, l := newTestHub(Config{})
		st := h.NewStream(StreamOptions{GOPCache: true})
		st.BeginPublish()
		const start = uint32(1<<31 - 1000)
		const step = uint32(1 << 28)
		st.Publish(chunkcodec.TypeVideo, start, avcSeq())
		st.Publish(chunkcodec.TypeVideo, start, key(0))
		sink := &rawSink{}
		st.Subscribe(l, sink, SubscriberOptions{Format: format})
		l.run()
		const frames = 15 // 15 * 2^28 ms: past 2^31 (source and subscriber) and 2^32 (source)
		for i := uint32(1); i <= frames; i++ {
			st.Publish(chunkcodec.TypeVideo, start+i*step, inter(i))
			l.run()
		}
		tags := flvTags(t, format, sink.buf)
		if len(tags) != frames+2 {
			t.Fatalf("format %d: %d tags, want %d", format, len(tags), frames+2)
		}
		for i, tag := range tags[2:] {
			if want := uint32(i+1) * step; tag.Timestamp != want {
				t.Errorf("format %d: tag %d timestamp %d, want %d", format, i+2, tag.Timestamp, want)
			}
		}
		st.Close()
	}
}

// Item 4: rings allocated on first publish.

func TestNoRingUntilPublish(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	slotBytes := h.Config().RingSize * 8
	if m := st.MemoryBytes(); m >= slotBytes || st.ring.Load() != nil {
		t.Fatalf("new stream holds %d bytes (ring allocated: %v)", m, st.ring.Load() != nil)
	}
	rtmp := newDecodeSink(h.Config().ChunkSize)
	rsub := st.Subscribe(l, rtmp, SubscriberOptions{})
	flv := &rawSink{}
	fsub := st.Subscribe(l, flv, SubscriberOptions{Format: FormatFLV})
	l.run()
	rsub.Flush()
	rsub.SetPaused(true)
	rsub.SetPaused(false) // skips ahead on a stream with no ring
	h.FlushLoop(0)
	if m := st.MemoryBytes(); m >= slotBytes || st.ring.Load() != nil {
		t.Fatalf("stream with subscribers and no publisher holds %d bytes (ring allocated: %v)", m, st.ring.Load() != nil)
	}
	if len(rtmp.msgs) != 0 || len(flv.buf) != 0 {
		t.Fatal("bytes delivered before any publish")
	}

	// Publishing after the subscribers attached still delivers.
	st.BeginPublish()
	if m := st.MemoryBytes(); m < slotBytes {
		t.Fatalf("published stream holds %d bytes, want at least its %d slot bytes", m, slotBytes)
	}
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(1))
	st.Publish(chunkcodec.TypeVideo, 40, inter(2))
	l.run()
	if len(rtmp.msgs) != 3 || rtmp.msgs[2].ts != 40 {
		t.Fatalf("RTMP subscriber got %+v", rtmp.msgs)
	}
	if tags := flvTags(t, FormatFLV, flv.buf); len(tags) != 3 || tags[2].Timestamp != 40 {
		t.Fatalf("FLV subscriber got %+v", tags)
	}
	rsub.Close()
	fsub.Close()
	st.Close()

	// Close of a stream that never published.
	idle := h.NewStream(StreamOptions{})
	sub := idle.Subscribe(l, &rawSink{}, SubscriberOptions{})
	sub.Close()
	idle.Close()
	if idle.ring.Load() != nil {
		t.Fatal("Close allocated a ring")
	}
}

// Item 5: retention and accounting.

// checkAccounting verifies that the stream's byte counts equal the capacity of
// the buffers it holds.
func checkAccounting(t *testing.T, st *Stream) {
	t.Helper()
	st.wmu.Lock()
	defer st.wmu.Unlock()
	ring, n := 0, 0
	for i := range st.slots {
		if p := st.slots[i].Load(); p != nil {
			ring += cap(p.buf)
			n++
		}
	}
	codec := 0
	for _, slot := range []*Packet{st.meta.Load(), st.vseq.Load(), st.aseq.Load()} {
		if slot != nil {
			codec += cap(slot.buf)
		}
	}
	if ring != st.ringBytes || codec != st.codecBytes || int64(ring+codec) != st.held.Load() {
		t.Fatalf("accounting: ring %d (held %d in %d packets), codec %d (held %d), MemoryBytes part %d",
			st.ringBytes, ring, n, st.codecBytes, codec, st.held.Load())
	}
	if held := st.head.Load() - st.tail.Load(); held != uint64(n) {
		t.Fatalf("ring holds %d packets, tail..head spans %d", n, held)
	}
}

// frame8K is an 8 KB video frame carrying counter n.
func frame8K(n uint32, keyframe bool) []byte {
	f := make([]byte, 8<<10)
	if keyframe {
		copy(f, key(n))
	} else {
		copy(f, inter(n))
	}
	return f
}

// TestIdlePublisherRetention: a publisher with no viewers sending 8 KB frames
// with a keyframe every 25 frames holds about one GOP plus the lag allowance,
// with the GOP cache on; with it off, only the lag allowance.
func TestIdlePublisherRetention(t *testing.T) {
	const gop = 25
	for _, cache := range []bool{true, false} {
		h, _ := newTestHub(Config{})
		cfg := h.Config()
		st := h.NewStream(StreamOptions{GOPCache: cache})
		st.BeginPublish()
		st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
		pkt := 0
		for i := uint32(0); i < 1000; i++ {
			st.Publish(chunkcodec.TypeVideo, i*40, frame8K(i, i%gop == 0))
			if i == 0 {
				pkt = st.slots[(st.head.Load()-1)&st.mask].Load().heldBytes()
			}
			if i%100 == 0 {
				checkAccounting(t, st)
			}
		}
		checkAccounting(t, st)
		if pkt >= 32<<10 {
			t.Errorf("an 8 KB frame holds a %d-byte buffer", pkt)
		}
		want := cfg.LagBytes + pkt + cfg.RingSize*8 + 4<<10 // lag, one packet of rounding, slots, struct and headers
		if cache {
			want += gop * pkt
		}
		if m := st.MemoryBytes(); m > want {
			t.Errorf("GOP cache %v: idle publisher holds %d bytes, want at most %d (one GOP %d + lag %d)", cache, m, want, gop*pkt, cfg.LagBytes)
		}
		// Once the publisher leaves, no GOP is served: only the lag allowance stays.
		st.EndPublish(nil)
		checkAccounting(t, st)
		if m, want := st.MemoryBytes(), cfg.LagBytes+pkt+cfg.RingSize*8+4<<10; m > want {
			t.Errorf("GOP cache %v: ended publish holds %d bytes, want at most %d", cache, m, want)
		}
		st.Close()
		checkAccounting(t, st)
	}
}

// TestServedGOPKept: a GOP larger than the lag allowance is still served whole
// to a joiner.
func TestServedGOPKept(t *testing.T) {
	h, l := newTestHub(Config{LagBytes: 64 << 10})
	st := h.NewStream(StreamOptions{GOPCache: true})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	for i := uint32(0); i < 130; i++ {
		st.Publish(chunkcodec.TypeVideo, i*40, frame8K(i, i%50 == 0))
	}
	checkAccounting(t, st)
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	l.run()
	if len(sink.msgs) != 1+30 {
		t.Fatalf("joiner got %d messages, want the sequence header and 30 frames", len(sink.msgs))
	}
	for i, m := range sink.msgs[1:] {
		if n := binary.BigEndian.Uint32(m.data[5:]); n != uint32(100+i) {
			t.Fatalf("frame %d carries counter %d, want %d", i, n, 100+i)
		}
	}
}

// TestLaggingViewerWithinAllowance: a viewer that falls behind by less than the
// lag allowance still gets every packet in order; one further behind skips to a
// keyframe.
func TestLaggingViewerWithinAllowance(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: false})
	st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	sink := newDecodeSink(h.Config().ChunkSize)
	st.Subscribe(l, sink, SubscriberOptions{})
	st.Publish(chunkcodec.TypeVideo, 0, frame8K(0, true))
	l.run()
	pkt := st.slots[(st.head.Load()-1)&st.mask].Load().heldBytes()
	lagFrames := uint32(h.Config().LagBytes/pkt) - 1
	n := uint32(1)
	for ; n <= lagFrames; n++ { // the loop does not run: the viewer lags
		st.Publish(chunkcodec.TypeVideo, n*40, frame8K(n, false))
	}
	checkAccounting(t, st)
	l.run()
	var got []uint32
	for _, m := range sink.msgs[1:] {
		got = append(got, binary.BigEndian.Uint32(m.data[5:]))
	}
	if len(got) != int(lagFrames)+1 {
		t.Fatalf("lagging viewer got %d frames, want %d", len(got), lagFrames+1)
	}
	for i, c := range got {
		if c != uint32(i) {
			t.Fatalf("frame %d carries counter %d", i, c)
		}
	}
	if h.Stats().Skips != 0 {
		t.Fatal("viewer within the allowance skipped")
	}

	// Twice the allowance behind: the viewer restarts at the newest keyframe.
	before := len(sink.msgs)
	end := n + 2*lagFrames
	for ; n < end; n++ {
		st.Publish(chunkcodec.TypeVideo, n*40, frame8K(n, n == end-5))
	}
	l.run()
	rest := sink.msgs[before:]
	if len(rest) == 0 || binary.BigEndian.Uint32(rest[0].data[5:]) != end-5 {
		t.Fatalf("viewer beyond the allowance: %d messages, want a restart at keyframe %d", len(rest), end-5)
	}
	st.Close()
}

// TestSizeClasses: every size maps to the smallest class that holds it.
func TestSizeClasses(t *testing.T) {
	for n := 1; n <= 1<<maxClassShift; n += 1 + n/300 {
		c := classFor(n)
		if c < 0 || classSize(c) < n || (c > 0 && classSize(c-1) >= n) {
			t.Fatalf("size %d: class %d (%d bytes)", n, c, classSize(c))
		}
	}
	if classFor(1<<maxClassShift+1) != -1 || classSize(numClasses-1) != 1<<maxClassShift {
		t.Fatal("largest class")
	}
	for c := range classFor(1 << 20) { // buffers up to 1 MiB: keep the test light
		if b := newBuf(classSize(c)); cap(b) < classSize(c) || len(b) != cap(b) {
			t.Fatalf("class %d: buffer len %d cap %d", c, len(b), cap(b))
		}
	}
}
