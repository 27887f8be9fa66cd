package relay

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
)

// MaxPushQueue bounds the bytes waiting for one push target: those queued
// and those its goroutine holds (sending, or waiting to reconnect). Below
// it the fanout's slow-viewer policy judges the queue as any viewer's (it
// skips to the next keyframe, or is dropped); past it, whatever the
// fanout's watermarks, the target is too slow and the push is dropped, as
// a viewer over its hard cap is.
const MaxPushQueue = 8 << 20

// Pusher forwards one published stream to one target (rtmp://host/app/name
// or rtmps://...): a fanout subscriber whose bytes (FLV tags) wait in its
// own bounded queue for a goroutine that publishes them to the target,
// reconnecting with backoff. A slow or dead target never touches the
// publisher, the viewers or the other targets. Writev, OutboundBuffered,
// Close and EndOfStream are for the fanout (the stream's loop); the rest is
// the goroutine's.
type Pusher struct {
	m      *Manager
	target string
	log    *slog.Logger
	st     status // for operators

	mu       sync.Mutex
	q        []byte // FLV from the subscription, not yet sent
	sending  int    // bytes the goroutine took from q and has not sent
	stopping bool
	wake     chan struct{}

	// Goroutine-owned.
	rd         flvmux.Reader
	meta, aseq []byte // the newest metadata and sequence headers, for a new connection
	vseq       []byte
	needKey    bool // after a reconnect: wait for a keyframe
}

// Push starts forwarding to target what the subscription it returns as a
// fanout.Sink receives; subscribe it (FormatFLV, EndOnSuspend) on the
// stream's loop. It ends with the stream (EndOfStream), the subscription
// (Close) or the Manager. Any goroutine.
func (m *Manager) Push(target string) *Pusher {
	p := &Pusher{m: m, target: target, log: m.log.With("push", target), wake: make(chan struct{}, 1)}
	p.st.info = Info{Kind: "push", Stream: target, Target: target, State: "connecting", Since: time.Now()}
	m.mu.Lock()
	m.pushes[p] = struct{}{}
	m.mu.Unlock()
	m.wg.Add(1)
	go p.run()
	return p
}

// Writev implements fanout.Sink: it queues the bytes (copied), or drops
// the push when they would take the bytes waiting past MaxPushQueue.
func (p *Pusher) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return 0, errPushStopped
	}
	if waiting := len(p.q) + p.sending + n; waiting > MaxPushQueue {
		p.stopping = true
		p.mu.Unlock()
		p.signal()
		p.log.Warn("push target too slow; push dropped", "waiting_bytes", waiting, "budget", MaxPushQueue)
		return 0, errPushQueueFull
	}
	for _, b := range bufs {
		p.q = append(p.q, b...)
	}
	p.mu.Unlock()
	p.signal()
	return n, nil
}

// OutboundBuffered implements fanout.Sink: the queue's length, which the
// fanout's watermarks judge.
func (p *Pusher) OutboundBuffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.q)
}

// waiting returns the bytes waiting for the target, at most MaxPushQueue.
// Any goroutine.
func (p *Pusher) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.q) + p.sending
}

// Close implements fanout.Sink: the subscription ended (a too slow target).
func (p *Pusher) Close() error { p.stop(); return nil }

// EndOfStream implements fanout.EndOfStreamer: the publisher left.
func (p *Pusher) EndOfStream() { p.stop() }

func (p *Pusher) stop() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.signal()
}

func (p *Pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

var (
	errPushStopped   = errors.New("relay: push stopped")
	errPushQueueFull = errors.New("relay: push target too slow (bytes waiting over MaxPushQueue)")
)

// run is the pusher's goroutine.
func (p *Pusher) run() {
	defer p.m.wg.Done()
	defer func() {
		p.m.mu.Lock()
		delete(p.m.pushes, p)
		p.m.mu.Unlock()
	}()
	ctx := p.m.ctx
	backoff := backoffMin
	var c *client.Conn
	var rttAt time.Time
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	for {
		p.mu.Lock()
		q, stopping := p.q, p.stopping
		p.q, p.sending = nil, len(q)
		p.mu.Unlock()
		if c == nil && (len(q) > 0 || !stopping) {
			var err error
			if c, err = p.connect(ctx); err != nil {
				p.st.set("retrying", "", err)
				if stopping {
					// Ended (dropped, or the stream ended): no retry for what is left.
					p.log.Warn("push ended with bytes unsent: target unavailable", "err", err, "unsent_bytes", len(q))
					return
				}
				p.log.Warn("push target unavailable", "err", err, "retry_in", backoff)
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, backoffMax)
				p.requeue(q)
				continue
			}
			backoff = backoffMin
			p.st.set("pushing", "", nil)
		}
		if c != nil && time.Since(rttAt) >= readQuantum {
			rttAt = time.Now()
			p.st.setRTT(rtt(c.RawConn()))
		}
		if len(q) > 0 {
			p.st.addBytes(len(q))
			if err := p.send(c, q); err != nil {
				p.st.set("retrying", "", err)
				p.log.Warn("push target lost; reconnecting", "err", err)
				_ = c.Close()
				c = nil
				p.needKey = true
				continue
			}
		}
		p.mu.Lock()
		p.sending = 0
		p.mu.Unlock()
		if stopping {
			return
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return
		}
	}
}

// requeue puts q, what is left of the bytes taken, back in front of what
// arrived since (a failed connect or send): the bytes waiting do not grow.
func (p *Pusher) requeue(q []byte) {
	p.mu.Lock()
	p.sending = 0
	if len(q) > 0 {
		p.q = append(q, p.q...)
	}
	p.mu.Unlock()
}

// connect publishes to the target and sends the codec state it knows.
func (p *Pusher) connect(ctx context.Context) (*client.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := client.Dial(dctx, p.target, client.Config{Timeout: dialTimeout})
	if err != nil {
		return nil, err
	}
	if err := c.Publish(dctx, c.StreamName()); err != nil {
		_ = c.Close()
		return nil, err
	}
	for _, h := range []struct {
		typ  uint8
		data []byte
	}{{chunkcodec.TypeDataAMF0, p.meta}, {chunkcodec.TypeVideo, p.vseq}, {chunkcodec.TypeAudio, p.aseq}} {
		if len(h.data) > 0 {
			if err := write(c, h.typ, 0, h.data); err != nil {
				_ = c.Close()
				return nil, err
			}
		}
	}
	p.log.Info("pushing", "target", strings.SplitN(p.target, "?", 2)[0])
	return c, nil
}

// send parses FLV tags from q and publishes them.
func (p *Pusher) send(c *client.Conn, q []byte) error {
	for len(q) > 0 {
		n, tag, err := p.rd.Feed(q)
		q = q[n:]
		if err != nil {
			return err
		}
		if tag == nil {
			continue
		}
		data := tag.Data
		switch tag.Type {
		case flvmux.TagScript:
			p.meta = append(p.meta[:0], data...)
		case flvmux.TagVideo:
			if flvmux.IsVideoSequenceHeader(data) {
				p.vseq = append(p.vseq[:0], data...)
			} else if p.needKey {
				if !flvmux.IsVideoKeyframe(data) {
					continue
				}
				p.needKey = false
			}
		case flvmux.TagAudio:
			if flvmux.IsAudioSequenceHeader(data) {
				p.aseq = append(p.aseq[:0], data...)
			}
		}
		if err := write(c, tag.Type, tag.Timestamp, data); err != nil {
			p.requeue(q)
			return err
		}
	}
	return nil
}

// write publishes one tag: metadata as @setDataFrame, so the target keeps it
// for its joining players.
func write(c *client.Conn, typ uint8, ts uint32, data []byte) error {
	if typ == flvmux.TagScript {
		return c.WriteMetaData(data)
	}
	return c.WriteMessage(typ, ts, data)
}

var _ fanout.Sink = (*Pusher)(nil)
