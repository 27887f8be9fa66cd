package fanout

import (
	"errors"
	"sync/atomic"
)

// Sentinel errors.
var (
	ErrSlowSubscriber = errors.New("fanout: subscriber too slow (queued bytes over the hard cap or stalled)")
	ErrClosed         = errors.New("fanout: subscriber closed")
)

// group is the set of one stream's subscribers that live on one loop. Only the
// owning loop touches subs; writers on other loops only read n and flip pending.
type group struct {
	stream  *Stream
	subs    []*Subscriber
	n       atomic.Int32
	pending atomic.Bool
	next    atomic.Pointer[group]
}

func (g *group) flush(l *loopLocal, now int64) {
	// Iterate by index: a subscriber closed for slowness is removed in place.
	for i := 0; i < len(g.subs); {
		sub := g.subs[i]
		sub.flush(l, now)
		if i < len(g.subs) && g.subs[i] == sub {
			i++
		}
	}
}

// SubscriberOptions select what a subscriber receives.
type SubscriberOptions struct {
	NoAudio bool // receiveAudio(false)
	NoVideo bool // receiveVideo(false)
}

// Subscriber is one reader of a Stream, living on one loop. Every method must be
// called on that loop. It holds no packet references between flushes, so an idle
// or slow subscriber pins no stream memory; what it has not sent yet is either in
// the stream's ring or in its transport's bounded outbound queue.
type Subscriber struct {
	stream *Stream
	g      *group
	loop   *loopLocal
	sink   Sink
	pos    int

	cursor   uint64 // next ring seq to send
	sentMeta uint64 // seq of the metadata / sequence headers last sent (invalidSeq: none)
	sentV    uint64
	sentA    uint64

	blockedAt int64
	blocked   bool
	waitKey   bool
	headers   bool // send metadata and sequence headers before the next packet
	paused    bool
	noAudio   bool
	noVideo   bool
	closed    bool
	err       error
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
		stream:   s,
		g:        g,
		loop:     ll,
		sink:     sink,
		pos:      len(g.subs),
		sentMeta: invalidSeq,
		sentV:    invalidSeq,
		sentA:    invalidSeq,
		headers:  true,
		noAudio:  opts.NoAudio,
		noVideo:  opts.NoVideo,
	}
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
		sub.cursor = k
		sub.headers = true
		sub.waitKey = false
		return
	}
	if force {
		sub.cursor = st.head.Load()
		sub.waitKey = true
		sub.headers = true
	}
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

	head := st.head.Load()
	if sub.cursor < st.tail.Load() {
		// Lapped: what we needed is gone. Restart at a keyframe.
		sub.skipAhead(true)
	}
	if sub.waitKey {
		k := st.lastKey.Load()
		if k == invalidSeq || k < sub.cursor || k < st.tail.Load() || k >= head {
			sub.cursor = head
			return
		}
		sub.cursor, sub.waitKey, sub.headers = k, false, true
	}
	if sub.cursor >= head && !sub.headers {
		return
	}

	iov, held := l.iov[:0], l.held[:0]
	bytes := 0
	if sub.headers {
		sub.headers = false
		for _, h := range [...]struct {
			slot *atomic.Pointer[Packet]
			sent *uint64
		}{{&st.meta, &sub.sentMeta}, {&st.vseq, &sub.sentV}, {&st.aseq, &sub.sentA}} {
			p := retainCurrent(h.slot)
			if p == nil {
				continue
			}
			ps := p.seq.Load()
			if ps >= sub.cursor || ps == *h.sent || (p.Kind == KindAudio && sub.noAudio) || (p.Kind == KindVideo && sub.noVideo) {
				p.Release() // arrives through the ring, or already sent
				continue
			}
			*h.sent = ps
			iov = append(iov, p.RTMP)
			held = append(held, p)
			bytes += len(p.RTMP)
		}
	}

	seq := sub.cursor
	for ; seq < head && len(iov) < maxIovecs && bytes < cfg.MaxBatchBytes; seq++ {
		p := st.ring[seq&st.mask].Load()
		if p == nil || !p.tryRetain(seq) {
			// Overwritten while we read: drop what we gathered past the headers and
			// restart from a keyframe on the next flush.
			break
		}
		switch {
		case p.Kind == KindAudio && sub.noAudio, p.Kind == KindVideo && sub.noVideo:
			p.Release()
			continue
		case p.Flags&FlagMeta != 0:
			sub.sentMeta = seq
		case p.Flags&FlagSeqHeader != 0:
			if p.Kind == KindVideo {
				sub.sentV = seq
			} else {
				sub.sentA = seq
			}
		}
		iov = append(iov, p.RTMP)
		held = append(held, p)
		bytes += len(p.RTMP)
	}
	sub.cursor = seq

	if len(iov) > 0 {
		n := len(iov)
		_, err := sub.sink.Writev(iov)
		l.writes.Add(1)
		l.deliveries.Add(uint64(n))
		l.bytesOut.Add(uint64(bytes))
		if err != nil {
			sub.err = err
			sub.Close()
		}
	}
	for i, p := range held {
		p.Release()
		held[i] = nil
	}
	for i := range iov {
		iov[i] = nil
	}
	l.iov, l.held = iov[:0], held[:0]

	// More than one batch pending: come back on the next flush of this loop.
	if !sub.closed && sub.cursor < head && !sub.g.pending.Load() && sub.g.pending.CompareAndSwap(false, true) {
		l.push(sub.g)
	}
}
