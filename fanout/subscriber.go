package fanout

import (
	"errors"
	"sync/atomic"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// Sentinel errors.
var (
	ErrSlowSubscriber = errors.New("fanout: subscriber too slow (queued bytes over the hard cap or stalled)")
	ErrClosed         = errors.New("fanout: subscriber closed")
	// ErrNotPublisher is returned by Stream.PublishAs when the caller's epoch is
	// not the stream's current publisher (another BeginPublish or an EndPublish
	// came after it).
	ErrNotPublisher = errors.New("fanout: not the stream's current publisher")
)

// Format is the byte form a subscriber receives.
type Format uint8

// Subscriber formats.
const (
	// FormatRTMP sends Packet.RTMP: the shared chunk-encoded bytes.
	FormatRTMP Format = iota
	// FormatFLV sends an FLV byte stream (HTTP-FLV): a file header, then tags
	// whose timestamps start near 0 for this subscriber.
	FormatFLV
	// FormatWSFLV sends the FLV byte stream as binary WebSocket messages: the file
	// header in one, then one tag per message.
	FormatWSFLV
)

// SubscriberOptions select what a subscriber receives.
type SubscriberOptions struct {
	Format  Format
	NoAudio bool // receiveAudio(false)
	NoVideo bool // receiveVideo(false)
	// OnFirstFrame, when set, runs once on the subscriber's loop when its
	// first audio or video frame (not a sequence header) has been handed to
	// the sink: time to first frame, for operators. It must not block.
	OnFirstFrame func()
	// EndOnSuspend ends the subscription where the publisher leaves, even when
	// the stream's players wait for the next publisher (Stream.SuspendPublishAs):
	// a recording is one publisher's session.
	EndOnSuspend bool
}

// EndOfStreamer is implemented by sinks that want to end their own way when the
// publisher leaves (for example a WebSocket close frame). FLV subscribers call it
// after the last tag; sinks without it are closed.
type EndOfStreamer interface {
	EndOfStream()
}

// Subscriber is one reader of a Stream, living on one loop. Every method must be
// called on that loop (loop-only), and every field is owned by that loop. It
// holds no packet references between flushes, so an idle or slow subscriber pins
// no stream memory; what it has not sent yet is either in the stream's ring or in
// its transport's bounded outbound queue.
type Subscriber struct {
	stream *Stream
	g      *group
	loop   *loopLocal
	sink   Sink
	direct DirectSink // sink, when it can write without queueing; else nil
	pos    int

	cursor   uint64 // next ring seq to send
	ctlFrom  uint64 // start of a range skipped over whose control packets are still owed (invalidSeq: none)
	sentMeta uint64 // seq of the metadata / sequence headers last sent (invalidSeq: none)
	sentV    uint64
	sentA    uint64

	format  Format
	tl      flvmux.Timeline // FLV forms: stream timestamps to this subscriber's, from 0
	started bool            // FLV file header sent

	blockedAt int64
	blocked   bool
	// Progress: queued is the transport's backlog right after this
	// subscriber's last write; a later flush that finds it no smaller saw the
	// socket take nothing in between, and the stall clock runs from stallAt.
	// This sees a viewer that stopped reading once its socket's send buffer
	// is full, before its backlog reaches the high watermark.
	queued       int
	stallAt      int64
	stalled      bool
	waitKey      bool
	headers      bool // send metadata and sequence headers before the next packet
	paused       bool
	noAudio      bool
	noVideo      bool
	endOnSuspend bool
	onFirst      func() // OnFirstFrame until it ran
	closed       bool
	err          error
}

// Subscribe attaches sink as a subscriber on loop l. It must run on l. A stream
// with a valid GOP cache serves the metadata, sequence headers and the frames from
// the last keyframe at once; otherwise the subscriber starts at the next keyframe.
func (s *Stream) Subscribe(l Loop, sink Sink, opts SubscriberOptions) *Subscriber {
	h := s.hub
	h.AttachLoop(l)
	idx := l.Index()
	ll := h.loops[idx]
	g := s.groups[idx].Load()
	if g == nil {
		g = &group{stream: s}
		if !s.groups[idx].CompareAndSwap(nil, g) {
			g = s.groups[idx].Load()
		}
	}
	sub := &Subscriber{
		stream:       s,
		g:            g,
		loop:         ll,
		sink:         sink,
		pos:          len(g.subs),
		sentMeta:     invalidSeq,
		ctlFrom:      invalidSeq,
		sentV:        invalidSeq,
		sentA:        invalidSeq,
		headers:      true,
		noAudio:      opts.NoAudio,
		noVideo:      opts.NoVideo,
		format:       opts.Format,
		endOnSuspend: opts.EndOnSuspend,
		onFirst:      opts.OnFirstFrame,
	}
	sub.direct, _ = sink.(DirectSink)
	g.subs = append(g.subs, sub)
	g.n.Add(1)
	s.subs.Add(1)
	h.subsTotal.Add(1)

	head := s.head.Load()
	if gs := s.gopStart.Load(); s.gopOK.Load() && gs != invalidSeq && gs >= s.tail.Load() && gs < head {
		sub.cursor = gs
	} else {
		sub.cursor = head
		sub.waitKey = true
	}
	sub.flush(ll, h.clock())
	return sub
}

// Close detaches the subscriber. Idempotent; must run on its loop.
func (sub *Subscriber) Close() {
	if sub.g == nil {
		return
	}
	g := sub.g
	last := len(g.subs) - 1
	if sub.pos <= last && g.subs[sub.pos] == sub {
		if sub.pos < g.resume && last >= g.resume {
			g.moved = true // a sliced pass would skip the one moved here
		}
		g.subs[sub.pos] = g.subs[last]
		g.subs[sub.pos].pos = sub.pos
		g.subs[last] = nil
		g.subs = g.subs[:last]
	}
	g.n.Add(-1)
	sub.stream.subs.Add(-1)
	sub.g = nil
	sub.closed = true
	if sub.err == nil {
		sub.err = ErrClosed
	}
}

// Err reports why the subscriber stopped (ErrSlowSubscriber, a write error), or nil.
func (sub *Subscriber) Err() error {
	if sub.err == ErrClosed {
		return nil
	}
	return sub.err
}

// SetPaused stops or resumes delivery; resuming starts at the newest keyframe.
func (sub *Subscriber) SetPaused(p bool) {
	if sub.paused == p {
		return
	}
	sub.paused = p
	if !p {
		sub.skipAhead(true)
		sub.Flush()
	}
}

// SetReceive selects audio and video (receiveAudio / receiveVideo).
func (sub *Subscriber) SetReceive(audio, video bool) {
	sub.noAudio, sub.noVideo = !audio, !video
}

// Flush delivers what is pending now, on the subscriber's loop.
func (sub *Subscriber) Flush() {
	sub.flush(sub.loop, sub.stream.hub.clock())
}

// skipAhead moves the cursor to the newest sync point, if there is one ahead.
func (sub *Subscriber) skipAhead(force bool) {
	st := sub.stream
	k := st.lastKey.Load()
	if k != invalidSeq && k >= st.tail.Load() && (k > sub.cursor || force) && k < st.head.Load() {
		if k != sub.cursor {
			sub.loop.skips.Add(1)
		}
		sub.jump(k)
		sub.headers = true
		sub.waitKey = false
		return
	}
	if force {
		sub.jump(st.head.Load())
		sub.waitKey = true
		sub.headers = true
	}
}

// jump moves the cursor forward to seq. Media in between is skipped, but the
// server's control packets there (end of stream, publish notices) are still
// owed and go out with the next flush.
func (sub *Subscriber) jump(seq uint64) {
	if seq <= sub.cursor {
		sub.cursor = seq
		return
	}
	if sub.ctlFrom == invalidSeq {
		sub.ctlFrom = sub.cursor
	}
	sub.cursor = seq
}

func (sub *Subscriber) fail(err error) {
	if sub.closed {
		return
	}
	sub.err = err
	if err == ErrSlowSubscriber {
		sub.loop.slow.Add(1)
	}
	sub.Close()
	_ = sub.sink.Close()
}

func (sub *Subscriber) flush(l *loopLocal, now int64) {
	if sub.closed || sub.paused {
		return
	}
	st := sub.stream
	cfg := &st.hub.cfg

	q := sub.sink.OutboundBuffered()
	if q > cfg.HardCap {
		sub.fail(ErrSlowSubscriber)
		return
	}
	if q > 0 && q >= sub.queued {
		if !sub.stalled {
			sub.stalled, sub.stallAt = true, now
		} else if now-sub.stallAt > int64(cfg.StallTimeout) {
			sub.fail(ErrSlowSubscriber)
			return
		}
	} else {
		sub.stalled = false
	}
	if sub.blocked {
		if q > cfg.LowWater {
			if now-sub.blockedAt > int64(cfg.StallTimeout) {
				sub.fail(ErrSlowSubscriber)
			}
			return
		}
		sub.blocked = false
		sub.skipAhead(false)
	} else if q > cfg.HighWater {
		sub.blocked, sub.blockedAt = true, now
		return
	}
	if sub.direct != nil && q > 0 {
		// The transport still holds the rest of a message, which goes first;
		// what follows waits in the ring (see DirectSink).
		sub.retry(l)
		return
	}

	head := st.head.Load()
	// Loaded after head: a stream whose head has advanced has its ring.
	rp := st.ring.Load()
	if rp == nil {
		return // never published: nothing to send yet
	}
	ring := *rp
	if sub.cursor < st.tail.Load() {
		// Lapped: what we needed is gone. Restart at a keyframe.
		sub.skipAhead(true)
	}
	if sub.waitKey {
		k := st.lastKey.Load()
		if k == invalidSeq || k < sub.cursor || k < st.tail.Load() || k >= head {
			sub.jump(head) // still waiting: skip media, keep control packets owed
			if sub.ctlFrom == invalidSeq {
				return
			}
		} else {
			sub.jump(k)
			sub.waitKey, sub.headers = false, true
		}
	}
	if sub.cursor >= head && !sub.headers && sub.ctlFrom == invalidSeq {
		return
	}

	iov, held, marks := l.iov[:0], l.held[:0], l.marks[:0]
	l.scratch = l.scratch[:0]
	bytes, ringStart := 0, 0
	seq := sub.cursor
	flv := sub.format != FormatRTMP
	if !sub.tl.Started() && sub.cursor < head {
		// Timestamps for this subscriber start at the first packet it gets.
		if p := ring[sub.cursor&st.mask].Load(); p != nil && p.tryRetain(st.id, sub.cursor) {
			sub.tl.Start(p.Timestamp)
			p.Release()
		}
	}
	eos := false
	if sub.ctlFrom != invalidSeq {
		// Control packets from a skipped range, in order, before anything else.
		for seq := max(sub.ctlFrom, st.tail.Load()); seq < sub.cursor; seq++ {
			p := ring[seq&st.mask].Load()
			if p == nil || !p.tryRetain(st.id, seq) {
				continue
			}
			if p.Kind != KindControl {
				p.Release()
				continue
			}
			if flv || len(p.RTMP) == 0 {
				eos = eos || p.Flags&FlagEOS != 0 || (p.Flags&FlagSuspend != 0 && sub.endOnSuspend)
				p.Release()
				continue
			}
			iov = append(iov, p.RTMP)
			held = append(held, p)
			bytes += len(p.RTMP)
		}
		sub.ctlFrom = invalidSeq
		if eos {
			goto gathered
		}
	}
	if flv && !sub.started && !sub.waitKey {
		sub.started = true
		start := len(l.scratch)
		if sub.format == FormatWSFLV {
			l.scratch = appendWSBinaryHeader(l.scratch, flvmux.FileHeaderSize+flvmux.PrevTagSizeLen)
		}
		l.scratch = flvmux.AppendFileHeader(l.scratch, st.HasAudio() || !st.HasVideo(), st.HasVideo())
		iov = append(iov, l.scratch[start:])
		bytes += len(l.scratch) - start
	}
	if sub.headers && !sub.waitKey {
		sub.headers = false
		for _, h := range [...]struct {
			slot *atomic.Pointer[Packet]
			sent *uint64
		}{{&st.meta, &sub.sentMeta}, {&st.vseq, &sub.sentV}, {&st.aseq, &sub.sentA}} {
			p := retainCurrent(h.slot, st.id)
			if p == nil {
				continue
			}
			ps := p.seq.Load()
			if ps >= sub.cursor || ps == *h.sent || (p.Kind == KindAudio && sub.noAudio) || (p.Kind == KindVideo && sub.noVideo) {
				p.Release() // arrives through the ring, or already sent
				continue
			}
			*h.sent = ps
			iov, bytes = sub.appendPacket(l, iov, bytes, p)
			held = append(held, p)
		}
	}

	ringStart = len(iov) // the joining prefix (control packets, headers) ends here
	seq = sub.cursor
	for ; seq < head && len(iov) < maxIovecs-4 && bytes < cfg.MaxBatchBytes; seq++ {
		p := ring[seq&st.mask].Load()
		if p == nil || !p.tryRetain(st.id, seq) {
			// Overwritten while we read: drop what we gathered past the headers and
			// restart from a keyframe on the next flush.
			break
		}
		switch {
		case p.Kind == KindAudio && sub.noAudio, p.Kind == KindVideo && sub.noVideo:
			p.Release()
			continue
		case p.Kind == KindControl && (flv || len(p.RTMP) == 0):
			p.Release()
			if p.Flags&FlagEOS != 0 || (p.Flags&FlagSuspend != 0 && sub.endOnSuspend) {
				eos = true
				seq++
				goto gathered
			}
			continue
		}
		marks = append(marks, mark{seq: seq, p: p, at: len(iov)})
		iov, bytes = sub.appendPacket(l, iov, bytes, p)
		held = append(held, p)
	}
gathered:
	// next: where the cursor goes; taken: the ring packets the transport took.
	next, taken, full := seq, len(marks), false
	if len(iov) > 0 {
		if sub.direct != nil && !eos {
			next, taken, full = sub.writeDirect(l, iov, ringStart, marks, bytes, seq)
		} else {
			sub.writeQueued(l, iov, bytes)
		}
	}
	sub.noteSent(marks[:taken])
	if next > sub.cursor {
		sub.cursor = next
	}
	for i, p := range held {
		p.Release()
		held[i] = nil
	}
	clear(iov)
	clear(marks)
	l.iov, l.held, l.marks = iov[:0], held[:0], marks[:0]

	if eos && !sub.closed {
		sub.Close()
		if e, ok := sub.sink.(EndOfStreamer); ok {
			e.EndOfStream()
		} else {
			_ = sub.sink.Close()
		}
		return
	}

	// More than one batch pending: come back on the next flush of this loop,
	// at once (or at the end of a window) unless the socket is full (a flush
	// now would find it full: the next tick comes back).
	if !sub.closed && sub.cursor < head && !sub.g.pending.Load() && sub.g.pending.CompareAndSwap(false, true) {
		if full {
			l.push(sub.g, dueAtTick, false)
		} else {
			l.push(sub.g, now, true)
		}
	}
}

// appendPacket adds p's bytes in the subscriber's format to iov. FLV forms get a
// per-subscriber tag header (timestamp mapped by the subscriber's Timeline, with
// serial arithmetic, so it keeps increasing past 2^31 and 2^32 ms) from the loop's
// scratch, followed by the packet's shared tag body; WebSocket adds the shared
// frame header first.
func (sub *Subscriber) appendPacket(l *loopLocal, iov [][]byte, bytes int, p *Packet) ([][]byte, int) {
	if sub.format == FormatRTMP {
		if ts := sub.tl.Map(p.Timestamp); ts != p.Timestamp && p.Kind != KindControl {
			// The shared chunks after a header of this player's own: its
			// timestamps start from 0, as HTTP-FLV's and WebSocket-FLV's do
			// (a player that joined at the stream's start shares the
			// header too).
			start := len(l.scratch)
			var n int
			var ok bool
			if l.scratch, n, ok = chunkcodec.AppendRestampedHeader(l.scratch, p.RTMP, ts); ok {
				return append(iov, l.scratch[start:], p.RTMP[n:]), bytes + len(p.RTMP)
			}
		}
		return append(iov, p.RTMP), bytes + len(p.RTMP)
	}
	ts := sub.tl.Map(p.Timestamp)
	start := len(l.scratch)
	body := p.Tag[flvmux.TagHeaderSize:]
	l.scratch = flvmux.AppendTagHeader(l.scratch, p.TypeID, uint32(len(p.Payload)), ts)
	if sub.format == FormatWSFLV {
		iov = append(iov, p.WSHeader)
		bytes += len(p.WSHeader)
	}
	iov = append(iov, l.scratch[start:], body)
	return iov, bytes + flvmux.TagHeaderSize + len(body)
}
