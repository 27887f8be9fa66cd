package netpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// StdEngine is the standard-library transport: a goroutine reads each connection
// and another writes it, while all session work runs on a small set of loop
// goroutines, exactly as on the gnet reactor, so sessions and fanout are shared.
// It serves TLS (RTMPS), which gnet lacks, and is the baseline in benchmarks.
//
// Every goroutine it starts (accept loops, per-connection reader and writer,
// loops) has an owner that Stop waits on. A connection's writer never blocks
// past Close by more than Config.CloseFlushTimeout, so a peer that stops
// reading cannot pin its goroutines, socket and queued bytes.
type StdEngine struct {
	cfg    Config
	h      Handler
	tlsCfg *tls.Config
	lns    []net.Listener // raw TCP listeners; TLS is layered per connection
	addrs  []string
	loops  []*Loop
	next   atomic.Uint32
	conns  atomic.Int64

	// wg counts accept goroutines, accepted connections (from Accept until
	// their close task ran or they were refused) and each connection's reader
	// and writer goroutines. Stop waits for it before stopping the loops.
	wg     sync.WaitGroup
	loopWG sync.WaitGroup // loop goroutines

	mu      sync.Mutex
	live    map[*stdConn]struct{} // guarded by mu: registered connections, for Stop
	stopped atomic.Bool           // set once by Stop (checked under mu by openTask)
}

// StdReadBufferSize is each connection's read buffer in the standard-library transport.
const StdReadBufferSize = 32 << 10

// StartStd listens on cfg.Addrs with the standard library (TLS when tlsCfg is not
// nil) and serves until Stop.
func StartStd(cfg Config, h Handler, tlsCfg *tls.Config) (*StdEngine, error) {
	applyDefaults(&cfg)
	if err := checkKinds(cfg); err != nil {
		return nil, err
	}
	e := &StdEngine{cfg: cfg, h: h, tlsCfg: tlsCfg, live: map[*stdConn]struct{}{}}
	for _, a := range cfg.Addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range e.lns {
				_ = l.Close()
			}
			return nil, err
		}
		e.addrs = append(e.addrs, ln.Addr().String())
		e.lns = append(e.lns, ln)
	}
	for i := range cfg.Loops {
		l := &Loop{idx: cfg.IndexBase + i, tasks: make(chan Task, 1024), quit: make(chan struct{}), h: h, every: cfg.Sweep}
		l.sweep.l = l
		e.loops = append(e.loops, l)
		e.loopWG.Add(1)
		go e.runLoop(l)
	}
	for i, ln := range e.lns {
		e.wg.Add(1)
		go e.accept(ln, cfg.kind(i))
	}
	return e, nil
}

func applyDefaults(cfg *Config) {
	if cfg.Loops <= 0 {
		cfg.Loops = defaultLoops()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = DefaultSweep
	}
	if cfg.ReadBufferCap <= 0 {
		cfg.ReadBufferCap = DefaultReadBufferCap
	}
	if cfg.CloseFlushTimeout <= 0 {
		cfg.CloseFlushTimeout = StdCloseFlushTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// Addrs returns the bound listen addresses, in Config order. Safe from any goroutine.
func (e *StdEngine) Addrs() []string { return e.addrs }

// Connections returns the number of open connections (sessions whose OnClose
// has not run). Safe from any goroutine.
func (e *StdEngine) Connections() int { return int(e.conns.Load()) }

// Loops returns the engine's loops. Safe from any goroutine.
func (e *StdEngine) Loops() []*Loop { return e.loops }

// Stop closes the listeners, refuses connections not yet opened, closes every
// open connection (queued output gets up to Config.CloseFlushTimeout; sessions
// get OnClose on their loop), waits for every goroutine the engine started and
// then stops the loops. If ctx ends first it stops the loops anyway and
// returns ctx.Err(); connections still open then get no OnClose. Safe from any
// goroutine except a loop's; calls after the first return nil at once.
func (e *StdEngine) Stop(ctx context.Context) error {
	if !e.stopped.CompareAndSwap(false, true) {
		return nil
	}
	for _, ln := range e.lns {
		_ = ln.Close()
	}
	e.mu.Lock()
	for c := range e.live {
		_ = c.Close()
	}
	e.mu.Unlock()
	var err error
	if !waitCtx(ctx, &e.wg) {
		err = ctx.Err()
	}
	for _, l := range e.loops {
		close(l.quit)
	}
	if !waitCtx(ctx, &e.loopWG) && err == nil {
		err = ctx.Err()
	}
	return err
}

// waitCtx waits for wg or ctx and reports whether wg finished.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (e *StdEngine) runLoop(l *Loop) {
	defer e.loopWG.Done()
	labelLoop(l)
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	ctx := context.Background()
	for {
		select {
		case task := <-l.tasks:
			_ = task.Run(ctx)
		case now := <-t.C:
			l.tick(now)
		case <-l.quit:
			return
		}
	}
}

// accept accepts on ln until it is closed. A connection the loops cannot
// take (the engine is stopping) is closed, and accepting goes on until the
// listener closes.
func (e *StdEngine) accept(ln net.Listener, kind int) {
	defer e.wg.Done()
	for {
		raw, err := ln.Accept()
		if err != nil {
			if e.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			e.cfg.Logger.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond) // back off from EMFILE and the like
			continue
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			if e.cfg.TCPKeepAlive > 0 {
				_ = tc.SetKeepAlivePeriod(e.cfg.TCPKeepAlive)
			}
			if e.cfg.SocketSendBuffer > 0 {
				_ = tc.SetWriteBuffer(e.cfg.SocketSendBuffer)
			}
		}
		nc := raw
		if e.tlsCfg != nil {
			nc = tls.Server(raw, e.tlsCfg) // the handshake runs in the reader
		}
		l := e.loops[int(e.next.Add(1))%len(e.loops)]
		c := &stdConn{nc: nc, raw: raw, loop: l, eng: e, remote: raw.RemoteAddr().String(), kind: kind,
			wake: make(chan struct{}, 1), done: make(chan struct{})}
		if la, ok := raw.LocalAddr().(*net.TCPAddr); ok {
			c.port = la.Port
		}
		c.data.c = c
		c.data.back = make(chan struct{}, 1)
		c.open.c = c
		c.shut.c = c
		e.wg.Add(1) // the connection, until its close task ran or it was refused
		if err := l.Execute(&c.open); err != nil {
			_ = raw.Close()
			e.wg.Done()
			continue
		}
	}
}

// stdConn is a standard-library connection. Session work runs on its loop; the
// reader goroutine hands each read to the loop and waits for it to be consumed
// (no copy, natural back-pressure); the writer goroutine drains the queue that
// Write/Writev fill, so a slow peer never blocks a loop.
type stdConn struct {
	sent   atomic.Uint64 // bytes accepted to send (BytesSent); any goroutine reads it
	nc     net.Conn      // the session's stream: raw, or a *tls.Conn over it
	raw    net.Conn      // the TCP socket, closed directly when output is abandoned
	loop   *Loop
	eng    *StdEngine
	remote string
	port   int
	kind   int

	sess     Session // set by the open task, then read on the loop only
	idx      int     // loop-only
	closing  bool    // loop-only
	closeErr error   // loop-only
	readErr  error   // written by the reader before it queues the close task

	mu       sync.Mutex
	out      []byte // guarded by mu: queued output
	inflight int    // guarded by mu: bytes the writer is writing now
	wake     chan struct{}
	done     chan struct{} // closed by Close
	closed   atomic.Bool   // set by Close (under mu), from any goroutine
	once     sync.Once

	open openTask
	data dataTask
	shut closeTask
}

type openTask struct{ c *stdConn }
type dataTask struct {
	c    *stdConn
	p    []byte
	back chan struct{}
}
type closeTask struct{ c *stdConn }

func (t *openTask) Run(context.Context) error {
	c := t.c
	e := c.eng
	e.mu.Lock()
	if e.stopped.Load() {
		e.mu.Unlock()
		c.refuse()
		return nil
	}
	e.live[c] = struct{}{}
	e.mu.Unlock()
	s := e.h.OnOpen(c)
	if s == nil {
		e.mu.Lock()
		delete(e.live, c)
		e.mu.Unlock()
		c.refuse()
		return nil
	}
	c.sess = s
	c.idx = len(c.loop.std)
	c.loop.std = append(c.loop.std, c)
	e.conns.Add(1)
	e.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return nil
}

// refuse drops a connection that never got a session.
func (c *stdConn) refuse() {
	c.closed.Store(true)
	_ = c.raw.Close()
	c.eng.wg.Done()
}

func (t *dataTask) Run(context.Context) error {
	c := t.c
	if !c.closing && !c.closed.Load() { // closed or Close requested: drop further input
		if err := c.sess.OnData(t.p); err != nil {
			c.closeErr = err
			c.closing = true
			_ = c.Close()
		}
	}
	t.back <- struct{}{}
	return nil
}

func (t *closeTask) Run(context.Context) error {
	c := t.c
	l := c.loop
	if last := len(l.std) - 1; c.idx <= last && l.std[c.idx] == c {
		l.std[c.idx] = l.std[last]
		l.std[c.idx].idx = c.idx
		l.std[last] = nil
		l.std = l.std[:last]
	}
	c.closing = true
	err := c.closeErr
	if err == nil && c.readErr != nil && !c.closed.Load() {
		err = c.readErr
	}
	c.sess.OnClose(err)
	c.eng.conns.Add(-1)
	c.eng.mu.Lock()
	delete(c.eng.live, c)
	c.eng.mu.Unlock()
	c.eng.wg.Done()
	return nil
}

func (c *stdConn) readLoop() {
	defer c.eng.wg.Done()
	buf := make([]byte, StdReadBufferSize)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.data.p = buf[:n]
			if c.loop.Execute(&c.data) != nil {
				break
			}
			select {
			case <-c.data.back:
			case <-c.loop.quit:
				return // Stop gave up waiting; the loop is gone
			}
		}
		if err != nil {
			c.readErr = err
			break
		}
	}
	if c.closed.Load() {
		_ = c.Close() // we closed: the writer is draining and closes the socket
	} else {
		c.closeNow() // the peer went away: nothing more can be delivered
	}
	_ = c.loop.Execute(&c.shut)
}

// StdCloseFlushTimeout is the default of Config.CloseFlushTimeout: how long
// Close lets queued output (an error response, a WebSocket close frame) reach
// a peer before the socket closes regardless.
const StdCloseFlushTimeout = 2 * time.Second

func (c *stdConn) writeLoop() {
	defer c.eng.wg.Done()
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			c.finish()
			return
		}
		c.mu.Lock()
		buf, c.out = c.out, buf[:0]
		c.inflight = len(buf)
		c.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		// Blocks while the peer does not read; Close sets a write deadline,
		// which ends it.
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		c.inflight = 0
		c.mu.Unlock()
		if err != nil {
			c.closeNow()
			return
		}
	}
}

// finish runs on the writer after Close: it writes what is still queued
// (bounded by the deadline Close set), then closes the socket, which also
// ends the reader.
func (c *stdConn) finish() {
	c.mu.Lock()
	buf := c.out
	c.out = nil
	c.mu.Unlock()
	if len(buf) > 0 {
		if _, err := c.nc.Write(buf); err != nil {
			_ = c.raw.Close() // the peer is gone or too slow: abandon the rest
			return
		}
	}
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite() // FIN after the data, so the peer reads it all
	}
	// A *tls.Conn sends close_notify first, under its own 5-second deadline.
	_ = c.nc.Close()
}

// Write queues a copy of b for the writer goroutine. After Close it returns
// ErrStopped and queues nothing. Loop-only.
func (c *stdConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return 0, ErrStopped
	}
	c.out = append(c.out, b...)
	c.mu.Unlock()
	c.sent.Add(uint64(len(b)))
	c.signal()
	return len(b), nil
}

// BytesSent returns the bytes the connection accepted to send so far
// (written or queued). Any goroutine.
func (c *stdConn) BytesSent() uint64 { return c.sent.Load() }

// Writev queues a copy of bufs for the writer goroutine. After Close it
// returns ErrStopped and queues nothing. Loop-only.
func (c *stdConn) Writev(bufs [][]byte) (int, error) {
	n := 0
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return 0, ErrStopped
	}
	for _, b := range bufs {
		c.out = append(c.out, b...)
		n += len(b)
	}
	c.mu.Unlock()
	c.sent.Add(uint64(n))
	c.signal()
	return n, nil
}

func (c *stdConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// OutboundBuffered is the number of bytes queued plus those the writer is
// writing now (not yet accepted by the socket); 0 after Close.
func (c *stdConn) OutboundBuffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return 0
	}
	return len(c.out) + c.inflight
}

// Close closes the connection after its queued output is written, within
// Config.CloseFlushTimeout: it sets that write deadline on the socket, so a
// writer blocked on a peer that stopped reading returns. Later calls do
// nothing. Safe from any goroutine.
func (c *stdConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed.Store(true)
		c.mu.Unlock()
		_ = c.raw.SetWriteDeadline(time.Now().Add(c.eng.cfg.CloseFlushTimeout))
		close(c.done) // the writer drains, then closes the socket
	})
	return nil
}

// closeNow closes at once, dropping queued output (the peer is gone).
func (c *stdConn) closeNow() {
	_ = c.Close()
	_ = c.raw.Close()
}

func (c *stdConn) RemoteAddr() string { return c.remote }
func (c *stdConn) LocalPort() int     { return c.port }
func (c *stdConn) ListenerKind() int  { return c.kind }
func (c *stdConn) Loop() EventLoop    { return c.loop }
