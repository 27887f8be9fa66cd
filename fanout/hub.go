package fanout

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// Task is work run on an event loop. It has the same method set as gnet.Runnable,
// so a *loopLocal can be handed to gnet's EventLoop.Execute without an adapter
// allocation, while this package stays free of gnet.
type Task interface {
	Run(ctx context.Context) error
}

// Loop is an event loop that owns subscribers. Index is a dense number in
// [0, Config.Loops); Execute schedules t to run on the loop goroutine and is safe
// from any goroutine.
type Loop interface {
	Index() int
	Execute(t Task) error
}

// Sink is the transport side of a subscriber. All methods are called only on the
// subscriber's loop. Writev may consume and rewrite bufs in place; it must not keep
// references to the byte slices after it returns (copy what it cannot send now).
type Sink interface {
	Writev(bufs [][]byte) (int, error)
	OutboundBuffered() int
	Close() error
}

// DirectSink is a Sink that can also write without queueing (netpoll's gnet
// connections). With one, a subscriber copies nothing into a per-connection
// buffer while its socket keeps up, and little when it does not: TryWritev
// sends what the socket takes now, the rest of the message it stopped in is
// queued with Writev (a copy of at most one message), and every later message
// stays in the stream's ring, shared with every other subscriber, until a later
// flush finds the transport's queue empty again. A subscriber that falls behind
// the ring's retention (Config.LagBytes) restarts at the newest keyframe, as
// one that is lapped does.
//
// TryWritev returns the number of bytes the socket took, which is less than
// the total when it is full; it must neither modify bufs nor keep them, and
// must write nothing (returning 0) while OutboundBuffered is not 0.
type DirectSink interface {
	Sink
	TryWritev(bufs [][]byte) (int, error)
}

// Config holds fanout limits. Zero fields take the defaults below.
type Config struct {
	// Loops is the number of event loops subscribers can live on.
	Loops int
	// ChunkSize is the outbound RTMP chunk size used to encode every packet once.
	ChunkSize uint32
	// RingSize is the number of ring slots of a stream (rounded up to a power of
	// two); the ring retains at most RingSize-1 packets. The slots (8 bytes each)
	// are allocated on the stream's first publish.
	RingSize int
	// MaxRingBytes is the hard cap on the bytes a stream's ring retains, counted as
	// really held (each packet's buffer capacity, which holds the RTMP, WebSocket
	// and FLV forms of the message); the oldest packets beyond it are dropped from
	// the ring (subscribers that still needed them skip to a keyframe).
	MaxRingBytes int
	// LagBytes is how far behind the newest packet (or, while the GOP cache serves
	// the current GOP, behind that GOP's keyframe) the ring keeps packets for
	// subscribers that lag, in bytes really held. Older packets are released even
	// with no subscriber attached, so an idle publisher holds about one GOP plus
	// LagBytes; a subscriber further behind skips to the newest keyframe anyway.
	// Capped at MaxRingBytes.
	LagBytes int
	// GOPMaxFrames and GOPMaxBytes cap the GOP cache (GOPMaxBytes in bytes really
	// held). A GOP larger than either is not served to joining players, who then
	// start at the next keyframe, and is no longer retained beyond LagBytes.
	GOPMaxFrames int
	GOPMaxBytes  int
	// HighWater and LowWater are a subscriber's watermarks on bytes queued in its
	// transport and not yet accepted by the socket. Above HighWater nothing more is
	// queued; once below LowWater the subscriber resumes at the newest keyframe.
	// A DirectSink queues at most the rest of one message, so its backlog waits
	// in the ring instead, bounded by LagBytes.
	HighWater int
	LowWater  int
	// HardCap disconnects a subscriber whose queued bytes exceed it.
	HardCap int
	// StallTimeout disconnects a subscriber whose transport takes none of its
	// bytes (its backlog does not shrink between flushes) this long.
	StallTimeout time.Duration
	// MaxBatchBytes caps the bytes one flush hands to one subscriber's writev.
	MaxBatchBytes int
	// BatchWindow is the latency a loop may add to merge writes. 0 sends as
	// soon as the loop runs (one write per video frame per subscriber: audio
	// rides with the next video frame). A positive window starts when a loop's
	// first video frame (or any message of a stream without recent video) is
	// pending, and the loop flushes when it ends: every message that arrived
	// in between goes out in one write per subscriber. So a subscriber gets at
	// most one write per window, and a larger window never makes more writes
	// than a smaller one. The number of writes per viewer sets the cost of a
	// delivered byte (bench/README.md has the measurements). The server and
	// rtmpd default to 100 ms; joining subscribers are always served at once.
	BatchWindow time.Duration
}

// Defaults for Config.
const (
	DefaultChunkSize     = 4096
	DefaultRingSize      = 4096
	DefaultMaxRingBytes  = 32 << 20
	DefaultLagBytes      = 2 << 20
	DefaultGOPMaxFrames  = 2048
	DefaultGOPMaxBytes   = 24 << 20
	DefaultHighWater     = 1 << 20
	DefaultLowWater      = 256 << 10
	DefaultHardCap       = 16 << 20
	DefaultStallTimeout  = 15 * time.Second
	DefaultMaxBatchBytes = 1 << 20
	maxIovecs            = 1024

	// audioRide is how recent a stream's last video message must be for its
	// audio to wait for the next video message instead of waking the loops:
	// longer than a 30 fps frame interval, short enough that audio of a
	// stream whose video stopped (or runs below 20 fps) flows on its own.
	audioRide = 50 * time.Millisecond
	// maxFrameGap bounds the frame step (ms) a new publisher's timestamps
	// continue with after a republish: longer steps are a pause, not a frame
	// rate.
	maxFrameGap = 1000
	// tickGrace is how long past the window a pending group waits before the
	// transport's periodic tick (Hub.TickLoop) flushes it anyway. Groups a
	// subscriber re-queued because its socket was full are due at once.
	tickGrace = 100 * time.Millisecond
	// dueAtTick is the pending time of a group the next tick must flush.
	dueAtTick = math.MinInt64
	// flushSlice bounds one flush task's time on the loop (a thousand
	// viewers take about 7 ms of writes); sliceCheck is how many
	// subscribers a slice serves between looks at the clock.
	flushSlice = 2 * time.Millisecond
	sliceCheck = 16
)

func (c *Config) setDefaults() {
	if c.Loops <= 0 {
		c.Loops = 1
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.RingSize <= 0 {
		c.RingSize = DefaultRingSize
	}
	n := 1
	for n < c.RingSize {
		n <<= 1
	}
	c.RingSize = n
	if c.MaxRingBytes <= 0 {
		c.MaxRingBytes = DefaultMaxRingBytes
	}
	if c.LagBytes <= 0 {
		c.LagBytes = DefaultLagBytes
	}
	if c.LagBytes > c.MaxRingBytes {
		c.LagBytes = c.MaxRingBytes
	}
	if c.GOPMaxFrames <= 0 {
		c.GOPMaxFrames = DefaultGOPMaxFrames
	}
	if c.GOPMaxFrames > c.RingSize-1 {
		c.GOPMaxFrames = c.RingSize - 1
	}
	if c.GOPMaxBytes <= 0 {
		c.GOPMaxBytes = DefaultGOPMaxBytes
	}
	if c.GOPMaxBytes > c.MaxRingBytes {
		c.GOPMaxBytes = c.MaxRingBytes
	}
	if c.HighWater <= 0 {
		c.HighWater = DefaultHighWater
	}
	if c.LowWater <= 0 || c.LowWater > c.HighWater {
		c.LowWater = c.HighWater / 4
	}
	if c.HardCap <= 0 {
		c.HardCap = DefaultHardCap
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
}

// Stats are cumulative counters, read with Hub.Stats.
type Stats struct {
	PacketsIn        uint64 // packets published
	BytesIn          uint64 // payload bytes published
	Deliveries       uint64 // packets handed to subscriber writevs
	BytesOut         uint64 // bytes handed to subscriber writevs
	Writes           uint64 // writev calls
	Skips            uint64 // times a subscriber skipped ahead to a keyframe
	SlowDisconnects  uint64 // subscribers closed for exceeding HardCap or StallTimeout
	LoopWakeups      uint64 // loop flush tasks run
	SubscribersTotal uint64 // subscribers ever attached
}

// Hub owns the per-loop delivery state shared by all streams.
type Hub struct {
	cfg   Config
	loops []*loopLocal
	clock func() int64
	// arm starts l's window timer; tests replace it to drive windows by hand.
	arm func(l *loopLocal, d time.Duration)

	packetsIn atomic.Uint64
	bytesIn   atomic.Uint64
	subsTotal atomic.Uint64
	closed    atomic.Bool
	// fireMu: a window timer's callback holds it for reading while it
	// schedules a flush; Close takes it to wait for those in flight.
	fireMu sync.RWMutex
}

// NewHub returns a hub for cfg.Loops event loops.
func NewHub(cfg Config) *Hub {
	cfg.setDefaults()
	h := &Hub{cfg: cfg, clock: monotonicNanos, arm: armTimer}
	h.loops = make([]*loopLocal, cfg.Loops)
	for i := range h.loops {
		h.loops[i] = &loopLocal{
			hub:     h,
			iov:     make([][]byte, 0, maxIovecs+4),
			held:    make([]*Packet, 0, maxIovecs+4),
			marks:   make([]mark, 0, maxIovecs+4),
			scratch: make([]byte, 0, maxIovecs*flvmux.TagHeaderSize+64),
		}
		h.loops[i].lastFlush.Store(math.MinInt64 / 2) // never: the first window is idle
		if cfg.BatchWindow > 0 {
			ll := h.loops[i]
			ll.timer = time.AfterFunc(time.Hour, ll.fire)
			ll.timer.Stop()
		}
	}
	return h
}

// Close stops the hub's window timers and waits for a timer callback that
// is scheduling a flush; a flush already scheduled still runs, and loops
// are no longer woken at the end of a window (the transport's tick, if it
// still runs, flushes what waits). Call it when the loops stop. Safe from
// any goroutine; idempotent.
func (h *Hub) Close() {
	h.fireMu.Lock() // callbacks in flight finish first; later ones do nothing
	defer h.fireMu.Unlock()
	if !h.closed.CompareAndSwap(false, true) {
		return
	}
	for _, l := range h.loops {
		if l.timer != nil {
			l.timer.Stop()
		}
	}
}

// Config returns the hub's effective configuration (defaults applied).
func (h *Hub) Config() Config { return h.cfg }

// AttachLoop tells the hub how to reach loop l. It is safe from any goroutine and
// idempotent; it must be called before the first subscriber on l.
func (h *Hub) AttachLoop(l Loop) {
	ll := h.loops[l.Index()]
	if ll.loop.Load() == nil {
		ll.loop.CompareAndSwap(nil, &loopRef{l})
	}
}

// FlushLoop delivers everything pending for subscribers on loop idx now. It
// must run on that loop. The hub schedules its own flushes (at once with no
// window, at the end of the window otherwise); FlushLoop is for callers that
// want everything out, such as tests.
func (h *Hub) FlushLoop(idx int) {
	h.loops[idx].flush()
}

// TickLoop is the transport's periodic tick for loop idx (every 100 ms or so;
// it must run on that loop). It flushes only what is overdue: groups a
// subscriber re-queued because its socket was full, and anything pending for
// longer than the window plus a grace period (a safety net: audio waiting for
// a video frame that did not come). Everything else waits for its own flush,
// so the tick adds no writes.
func (h *Hub) TickLoop(idx int) {
	h.loops[idx].flushDue(h.clock() - int64(h.cfg.BatchWindow+tickGrace))
}

// Stats sums the counters of all loops. Safe from any goroutine.
func (h *Hub) Stats() Stats {
	s := Stats{PacketsIn: h.packetsIn.Load(), BytesIn: h.bytesIn.Load(), SubscribersTotal: h.subsTotal.Load()}
	for _, l := range h.loops {
		s.Deliveries += l.deliveries.Load()
		s.BytesOut += l.bytesOut.Load()
		s.Writes += l.writes.Load()
		s.Skips += l.skips.Load()
		s.SlowDisconnects += l.slow.Load()
		s.LoopWakeups += l.wakeups.Load()
	}
	return s
}

type loopRef struct{ Loop }

// loopLocal is the per-loop delivery state. dirty is a lock-free stack of groups
// with pending packets: writers on any loop push (guarded by the group's pending
// flag, so a group is in the stack at most once) and the owning loop pops the whole
// stack at once, so there is no ABA hazard.
type loopLocal struct {
	hub       *Hub
	loop      atomic.Pointer[loopRef]
	dirty     atomic.Pointer[group]
	scheduled atomic.Bool  // no window: a flush task is queued on the loop
	armed     atomic.Bool  // a window: the timer runs, a flush follows
	lastFlush atomic.Int64 // hub clock at the start of the last flush
	timer     *time.Timer  // a window: fires fire at the end of the window

	// Scratch for one subscriber's flush at a time (loop-only): the iovec and the
	// packet references held while the writev runs. Per loop, not per subscriber,
	// so an idle subscriber costs only its own small struct.
	iov     [][]byte
	held    []*Packet
	marks   []mark // the ring packets among held, and where each starts in iov
	scratch []byte // per-subscriber FLV tag headers for one flush

	// Counters: written only by the owning loop, read by Stats.
	deliveries, bytesOut, writes, skips, slow, wakeups atomic.Uint64

	_ [64]byte // keep loops' hot fields on separate cache lines
}

// push marks g dirty, pending since the hub clock's since (dueAtTick: due at
// the next tick) and, with wake set, schedules a flush of this loop: at once with
// no window, at the end of the window otherwise. Without wake the group waits
// for the next flush of the loop (a packet that wakes it, or the transport's
// tick once it is overdue). The caller has set g.pending.
func (l *loopLocal) push(g *group, since int64, wake bool) {
	g.since.Store(since)
	for {
		old := l.dirty.Load()
		g.next.Store(old)
		if l.dirty.CompareAndSwap(old, g) {
			break
		}
	}
	if wake {
		l.wake(false, since)
	}
}

// wake schedules one flush of this loop unless one is already scheduled (now
// is the hub clock). With no window, or when urgent is set (control messages
// such as the end of a stream), the flush runs at once. With a window W it
// runs at once too if the loop has not flushed for W (an idle loop adds no
// latency), and otherwise W after the loop's last flush: at most one write
// per viewer per W, and no message waits longer than W. Safe from any
// goroutine.
func (l *loopLocal) wake(urgent bool, now int64) {
	w := l.hub.cfg.BatchWindow
	if w == 0 || urgent {
		l.execute()
		return
	}
	if l.armed.Load() {
		return
	}
	d := time.Duration(l.lastFlush.Load() + int64(w) - now)
	if d <= 0 {
		l.execute()
		return
	}
	if !l.hub.closed.Load() && l.armed.CompareAndSwap(false, true) {
		l.hub.arm(l, d)
	}
}

func armTimer(l *loopLocal, d time.Duration) { l.timer.Reset(d) }

// execute queues the loop's flush task unless it is queued already.
func (l *loopLocal) execute() {
	if l.scheduled.CompareAndSwap(false, true) {
		if r := l.loop.Load(); r != nil {
			if err := r.Execute(l); err != nil {
				l.scheduled.Store(false)
			}
		} else {
			l.scheduled.Store(false)
		}
	}
}

// fire ends a window (the timer's goroutine, which Close waits for).
func (l *loopLocal) fire() {
	l.hub.fireMu.RLock()
	defer l.hub.fireMu.RUnlock()
	l.armed.Store(false)
	if !l.hub.closed.Load() {
		l.execute()
	}
}

// Run implements Task: it is the loop's flush, scheduled once per batch.
func (l *loopLocal) Run(context.Context) error {
	l.scheduled.Store(false)
	l.flush()
	return nil
}

// flush delivers what is pending on the loop, in slices of at most
// flushSlice: when one runs out, the groups not done go back on the dirty
// stack and the flush is queued again, so the loop reads its sockets (a
// publisher's next frame, a joining player's handshake) between slices
// instead of after thousands of writes. Loop-only.
func (l *loopLocal) flush() {
	g := l.dirty.Swap(nil)
	if g == nil {
		return
	}
	l.wakeups.Add(1)
	now := l.hub.clock()
	l.lastFlush.Store(now)
	end := now + int64(flushSlice)
	for g != nil {
		next := g.next.Load()
		g.next.Store(nil)
		g.pending.Store(false)
		if !g.flush(l, now, end) {
			l.yield(g, next)
			return
		}
		g = next
	}
}

// yield ends a flush that ran out of time in g: g and the groups after it
// (next on) go back on the dirty stack, and the flush is queued again.
func (l *loopLocal) yield(g, next *group) {
	l.requeue(g, true)
	for g = next; g != nil; g = next {
		next = g.next.Load()
		g.next.Store(nil)
		l.requeue(g, false)
	}
	l.execute()
}

// requeue puts a group of a flush that ran out of time back on the dirty
// stack with its pending time. cleared: its pending flag was cleared for
// this flush (a publisher may have set it again and pushed it since).
func (l *loopLocal) requeue(g *group, cleared bool) {
	if cleared && !g.pending.CompareAndSwap(false, true) {
		return // pushed again meanwhile: it is on the stack
	}
	l.push(g, g.since.Load(), false)
}

// flushDue flushes the pending groups that became pending at or before
// cutoff (hub clock) and puts the others back for their own flush. Loop-only.
func (l *loopLocal) flushDue(cutoff int64) {
	g := l.dirty.Swap(nil)
	if g == nil {
		return
	}
	var now, end int64
	for g != nil {
		next := g.next.Load()
		g.next.Store(nil)
		if since := g.since.Load(); since > cutoff {
			l.push(g, since, false) // still pending: its own flush comes
			g = next
			continue
		}
		if now == 0 {
			l.wakeups.Add(1)
			now = l.hub.clock()
			end = now + int64(flushSlice)
		}
		g.pending.Store(false)
		if !g.flush(l, now, end) {
			l.yield(g, next)
			return
		}
		g = next
	}
}

var epoch = time.Now()

func monotonicNanos() int64 { return int64(time.Since(epoch)) }
