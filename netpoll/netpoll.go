// Package netpoll is Quaver's transport: a gnet v2 event-loop reactor that feeds
// connection bytes to protocol sessions and writes their output with merged,
// allocation-free writev calls.
//
// Threading model: every connection belongs to one event loop for its whole life.
// Session methods (OnData, OnTick, OnClose) and the Conn write methods (Write,
// Writev, OutboundBuffered) run on that loop's goroutine, so sessions need no
// locks; Close may be called from anywhere, and every Conn method is safe
// after close (see Conn). Work for a loop from another
// goroutine goes through Loop.Execute. gnet has no timers on loops, so a single
// ticker goroutine schedules a sweep on every loop through Execute; sessions
// enforce their deadlines in OnTick.
//
// gnet keeps no back-pressure of its own (its outbound buffer grows without limit),
// so Conn exposes OutboundBuffered and callers enforce watermarks (see fanout).
// Whatever a write leaves queued is copied into that per-connection buffer, so a
// gnet connection also has TryWritev, which writes what the socket takes and
// queues nothing: fanout (as a fanout.DirectSink) writes shared ring bytes with
// it and queues at most the rest of one message.
package netpoll

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Transport is a running listener set: the gnet Engine or the standard-library
// StdEngine.
type Transport interface {
	Addrs() []string
	Connections() int
	Stop(ctx context.Context) error
}

// Sentinel errors.
var (
	// ErrStopped: the engine is stopped, or the connection is closed (Close was
	// called or OnClose ran); a write after close returns it and sends nothing.
	ErrStopped = errors.New("netpoll: engine stopped or connection closed")
	// ErrBadKinds: Config.Kinds is longer than Config.Addrs, or two listen
	// addresses on one port have different kinds (the gnet transport tells
	// listeners apart by local port).
	ErrBadKinds = errors.New("netpoll: listener kinds do not match the listen addresses")
)

// Conn is a session's view of its connection. Write, Writev and
// OutboundBuffered must be called on the connection's loop; Close,
// RemoteAddr, LocalPort, ListenerKind and Loop are safe from any goroutine.
//
// Every method is safe after close, on both transports. "Closed" starts when
// Close is called (from any goroutine, before OnClose has run) or when the
// engine decides to close (an OnData or OnTick error, a peer that went away):
// from then on Write and Writev send nothing and return ErrStopped,
// OutboundBuffered returns 0, and Close does nothing. This matters on gnet,
// which writes to the raw descriptor: a write after close could otherwise
// reach a new connection that reuses the descriptor number. Output written
// before Close is still flushed (bounded; see Config.CloseFlushTimeout).
type Conn interface {
	// Write sends b, queueing what the socket does not take; b may be reused
	// after the call. Loop-only. ErrStopped after close.
	Write(b []byte) (int, error)
	// Writev sends bufs in one system call where possible and queues the rest.
	// It may rewrite bufs in place and keeps no reference to them after it
	// returns. Loop-only. ErrStopped after close.
	Writev(bufs [][]byte) (int, error)
	// OutboundBuffered is the number of bytes queued and not yet accepted by
	// the socket (on the standard-library transport including those its
	// writer is writing now); 0 after close. Loop-only.
	OutboundBuffered() int
	// Close closes the connection; OnClose follows on the loop. Safe from any
	// goroutine; calls after the first do nothing and return nil.
	Close() error
	// RemoteAddr is the peer's address as text. Safe from any goroutine.
	RemoteAddr() string
	// LocalPort is the port of the listener that accepted the connection.
	// Safe from any goroutine.
	LocalPort() int
	// ListenerKind is Config.Kinds[i] for the listen address Config.Addrs[i]
	// that accepted the connection (0 when Kinds has no entry for it). Safe
	// from any goroutine.
	ListenerKind() int
	// Loop is the event loop that owns the connection. Safe from any goroutine.
	Loop() EventLoop
}

// Task is work run on an event loop. It has gnet.Runnable's method set, so a
// task goes to gnet's EventLoop.Execute without an adapter allocation; other
// packages' task interfaces with the same method (fanout.Task) convert to it.
type Task interface {
	Run(ctx context.Context) error
}

// EventLoop is the event loop a connection belongs to, as sessions see it:
// Index is dense in [0, Loops) (offset by Config.IndexBase); Execute schedules
// t to run on the loop and is safe from any goroutine (on a standard-library
// loop it waits while the loop's queue is full, so a loop must not fill its
// own queue). Tests substitute their own.
type EventLoop interface {
	Index() int
	Execute(t Task) error
}

// Session is the protocol state of one connection.
type Session interface {
	// OnData consumes bytes read from the socket; p is valid only during the call.
	// A non-nil error closes the connection.
	OnData(p []byte) error
	// OnTick runs on the loop every sweep interval; a non-nil error closes the connection.
	OnTick(now time.Time) error
	// OnClose runs once when the connection is gone; err is nil on a clean close.
	OnClose(err error)
}

// Handler creates sessions and hears about loop ticks.
type Handler interface {
	// OnOpen returns the session for a new connection, or nil to refuse it.
	OnOpen(c Conn) Session
	// OnLoopTick runs on every loop every tick interval (before the session sweep).
	OnLoopTick(l EventLoop, now time.Time)
}

// Config configures an Engine.
type Config struct {
	// Addrs are the listen addresses (host:port). A port of 0 is resolved to a free
	// port before the engine starts; Engine.Addrs reports the result.
	Addrs []string
	// Kinds optionally labels the listen addresses: Kinds[i] is the kind of
	// Addrs[i] (the values are the caller's, for example RTMP and HTTP), and
	// Conn.ListenerKind reports it for each accepted connection. Missing
	// entries are 0. More entries than Addrs fail Start and StartStd with
	// ErrBadKinds; so does, on Start (gnet tells listeners apart by local
	// port), two addresses on one port with different kinds.
	Kinds []int
	// Loops is the number of event loops; 0 means runtime.GOMAXPROCS(0) (gnet's
	// multicore mode would use NumCPU, which ignores container CPU quotas).
	Loops int
	// IndexBase offsets loop indexes, so that two transports feeding one fanout hub
	// (plain RTMP on gnet, RTMPS on the standard library) have distinct loop indexes.
	IndexBase int
	// Tick is the period of OnLoopTick; 0 means DefaultTick.
	Tick time.Duration
	// Sweep is the period of the per-session OnTick; 0 means DefaultSweep.
	Sweep time.Duration
	// ReadBufferCap is the per-loop read buffer (one read(2) per readiness event).
	ReadBufferCap int
	// TCPKeepAlive enables keep-alive probes after this idle time when positive.
	TCPKeepAlive time.Duration
	// SocketSendBuffer sets SO_SNDBUF on accepted sockets when positive.
	SocketSendBuffer int
	// CloseFlushTimeout (standard-library transport only) bounds how long a
	// closed connection's queued output may take to reach the peer: Close sets
	// this write deadline on the socket, so a writer blocked on a peer that
	// stopped reading returns and the connection's goroutines, socket and
	// queued bytes are freed. 0 means StdCloseFlushTimeout. (gnet flushes
	// without blocking when it closes, dropping what the socket does not take.)
	CloseFlushTimeout time.Duration
	// Logger receives engine events; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults for Config.
const (
	DefaultTick          = 100 * time.Millisecond
	DefaultSweep         = 250 * time.Millisecond
	DefaultReadBufferCap = 64 << 10
)

// Loop is one event loop. Index is dense in [0, Loops). A gnet loop is backed by
// a gnet.EventLoop; a standard-library loop by a goroutine draining a task queue.
type Loop struct {
	idx   int
	el    gnet.EventLoop // gnet loops
	tasks chan Task      // standard-library loops
	quit  chan struct{}
	conns []*conn    // loop-only: live gnet connections, for the sweep
	std   []*stdConn // loop-only: live standard-library connections
	iov   iovecs     // loop-only scratch for raw writev
	h     Handler
	sweep sweepTask
	every time.Duration

	lastSweep time.Time
	doomed    []*conn

	// deferred are the connections whose reads wait for the tick (see
	// ReadDeferrer), read into rbuf (readCap bytes, made at the first).
	deferred []*conn
	rbuf     []byte
	readCap  int
}

// Index returns the loop's dense index.
func (l *Loop) Index() int { return l.idx }

// Execute runs t on the loop. Safe from any goroutine.
func (l *Loop) Execute(t Task) error {
	if l.el != nil {
		return l.el.Execute(context.Background(), t)
	}
	select {
	case l.tasks <- t:
		return nil
	case <-l.quit:
		return ErrStopped
	}
}

// Conns returns the number of connections on the loop (loop-only).
func (l *Loop) Conns() int { return len(l.conns) + len(l.std) }

type sweepTask struct{ l *Loop }

func (t *sweepTask) Run(context.Context) error {
	t.l.tick(time.Now())
	return nil
}

// Engine is a running reactor.
type Engine struct {
	gnet.BuiltinEventEngine
	cfg     Config
	h       Handler
	log     *slog.Logger
	eng     gnet.Engine
	addrs   []string
	kinds   map[int]int // local port -> listener kind; read-only after Start
	mu      sync.Mutex
	loops   map[gnet.EventLoop]*Loop
	list    atomic.Pointer[[]*Loop]
	nextIdx int
	booted  chan struct{}
	done    chan error
	stopped atomic.Bool
	conns   atomic.Int64
}

// Addrs returns the listen addresses with ports resolved, in Config order.
func (e *Engine) Addrs() []string { return e.addrs }

// Connections returns the number of open connections. Safe from any goroutine.
func (e *Engine) Connections() int { return int(e.conns.Load()) }

// Loops returns the loops that have served at least one connection.
func (e *Engine) Loops() []*Loop {
	if p := e.list.Load(); p != nil {
		return *p
	}
	return nil
}

// Stop closes the listeners and every connection (sessions get OnClose) and waits
// for the loops to exit or ctx to end.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.stopped.CompareAndSwap(false, true) {
		return nil
	}
	if err := e.eng.Stop(ctx); err != nil {
		return err
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// OnBoot implements gnet.EventHandler.
func (e *Engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.booted)
	return gnet.None
}

func (e *Engine) loopFor(el gnet.EventLoop) *Loop {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.loops[el]; ok {
		return l
	}
	l := &Loop{idx: e.cfg.IndexBase + e.nextIdx, el: el, h: e.h, every: e.cfg.Sweep, readCap: e.cfg.ReadBufferCap}
	l.sweep.l = l
	labelLoop(l) // runs on the loop goroutine (from OnOpen): profiles show loop work per loop
	e.nextIdx++
	e.loops[el] = l
	list := make([]*Loop, 0, len(e.loops))
	for _, x := range e.loops {
		list = append(list, x)
	}
	e.list.Store(&list)
	return l
}

// OnOpen implements gnet.EventHandler.
func (e *Engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	l, _ := gc.Context().(*Loop)
	if l == nil {
		l = e.loopFor(gc.EventLoop())
	}
	c := &conn{gc: gc, fd: gc.Fd(), loop: l, idx: len(l.conns)}
	if ka := e.cfg.TCPKeepAlive; ka > 0 {
		if err := setKeepAlive(gc, ka); err != nil {
			e.log.Debug("keep-alive not set", "remote", gc.RemoteAddr(), "err", err)
		}
	}
	if ra := gc.RemoteAddr(); ra != nil {
		c.remote = ra.String()
	}
	if la, ok := gc.LocalAddr().(*net.TCPAddr); ok {
		c.port = la.Port
		c.kind = e.kinds[la.Port]
	}
	s := e.h.OnOpen(c)
	if s == nil {
		c.closed.Store(true)
		return nil, gnet.Close
	}
	c.sess = s
	l.conns = append(l.conns, c)
	gc.SetContext(c)
	e.conns.Add(1)
	return nil, gnet.None
}

// keepAliveProbes is how many unanswered keep-alive probes end a connection.
const keepAliveProbes = 5

// setKeepAlive turns on keep-alive probes on an accepted socket after idle
// time ka, every ka/5 (both at least the kernel's unit, a second), as gnet
// would on its listener.
func setKeepAlive(gc gnet.Conn, ka time.Duration) error {
	return gc.SetKeepAlive(true, max(ka, time.Second), max(ka/5, time.Second), keepAliveProbes)
}

// OnTraffic implements gnet.EventHandler: all bytes of the read go to the session.
func (e *Engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.isClosed() { // closed or Close requested: drop further input
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	n := gc.InboundBuffered()
	buf, _ := gc.Next(n)
	if err := c.sess.OnData(buf); err != nil {
		c.markClosing(err)
		return gnet.Close
	}
	return gnet.None
}

// OnClose implements gnet.EventHandler.
func (e *Engine) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	gc.SetContext(nil)
	l := c.loop
	if last := len(l.conns) - 1; c.idx <= last && l.conns[c.idx] == c {
		l.conns[c.idx] = l.conns[last]
		l.conns[c.idx].idx = c.idx
		l.conns[last] = nil
		l.conns = l.conns[:last]
	}
	e.conns.Add(-1)
	if c.closeErr != nil {
		err = c.closeErr
	}
	c.closing = true
	c.closed.Store(true)
	c.sess.OnClose(err)
	return gnet.None
}

// OnTick implements gnet.EventHandler. It runs on gnet's ticker goroutine and
// schedules a tick on every loop.
func (e *Engine) OnTick() (time.Duration, gnet.Action) {
	for _, l := range e.Loops() {
		_ = l.el.Execute(context.Background(), &l.sweep)
	}
	return e.cfg.Tick, gnet.None
}

func (l *Loop) tick(now time.Time) {
	l.readDeferred()
	l.h.OnLoopTick(l, now)
	if now.Sub(l.lastSweep) < l.every {
		return
	}
	l.lastSweep = now
	for _, c := range l.std {
		if c.closing {
			continue
		}
		if err := c.sess.OnTick(now); err != nil {
			c.closeErr = err
			c.closing = true
			_ = c.Close()
		}
	}
	doomed := l.doomed[:0]
	for _, c := range l.conns {
		if c.closing {
			continue
		}
		if err := c.sess.OnTick(now); err != nil {
			c.markClosing(err)
			doomed = append(doomed, c)
		}
	}
	// Close after the walk: closing runs OnClose, which edits l.conns.
	for i, c := range doomed {
		_ = l.el.Close(c.gc)
		doomed[i] = nil
	}
	l.doomed = doomed[:0]
}

// labelLoop tags the calling loop goroutine for pprof.
func labelLoop(l *Loop) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("quaver", "loop", "loop", strconv.Itoa(l.idx))))
}
