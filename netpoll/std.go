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

	"github.com/quaverlive/quaver/fanout"
)

// StdEngine is the standard-library transport: a goroutine reads each connection
// and another writes it, while all session work runs on a small set of loop
// goroutines, exactly as on the gnet reactor, so sessions and fanout are shared.
// It serves TLS (RTMPS), which gnet lacks, and is the baseline in benchmarks.
type StdEngine struct {
	cfg     Config
	h       Handler
	tlsCfg  *tls.Config
	lns     []net.Listener
	addrs   []string
	loops   []*Loop
	next    atomic.Uint32
	conns   atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex
	live    map[*stdConn]struct{}
	stopped atomic.Bool
}

// StdReadBufferSize is each connection's read buffer in the standard-library transport.
const StdReadBufferSize = 32 << 10

// StartStd listens on cfg.Addrs with the standard library (TLS when tlsCfg is not
// nil) and serves until Stop.
func StartStd(cfg Config, h Handler, tlsCfg *tls.Config) (*StdEngine, error) {
	applyDefaults(&cfg)
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
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		e.lns = append(e.lns, ln)
	}
	for i := range cfg.Loops {
		l := &Loop{idx: cfg.IndexBase + i, tasks: make(chan fanout.Task, 1024), quit: make(chan struct{}), h: h, every: cfg.Sweep}
		l.sweep.l = l
		e.loops = append(e.loops, l)
		e.wg.Add(1)
		go e.runLoop(l)
	}
	for _, ln := range e.lns {
		e.wg.Add(1)
		go e.accept(ln)
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// Addrs returns the bound listen addresses.
func (e *StdEngine) Addrs() []string { return e.addrs }

// Connections returns the number of open connections.
func (e *StdEngine) Connections() int { return int(e.conns.Load()) }

// Loops returns the engine's loops.
func (e *StdEngine) Loops() []*Loop { return e.loops }

// Stop closes the listeners and all connections and waits for the goroutines.
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
	// Let the loops run the close tasks, then stop them.
	deadline := time.Now().Add(2 * time.Second)
	for e.conns.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range e.loops {
		close(l.quit)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *StdEngine) runLoop(l *Loop) {
	defer e.wg.Done()
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

func (e *StdEngine) accept(ln net.Listener) {
	defer e.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if e.stopped.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			e.cfg.Logger.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
			if e.cfg.TCPKeepAlive > 0 {
				_ = tc.SetKeepAlivePeriod(e.cfg.TCPKeepAlive)
			}
			if e.cfg.SocketSendBuffer > 0 {
				_ = tc.SetWriteBuffer(e.cfg.SocketSendBuffer)
			}
		}
		l := e.loops[int(e.next.Add(1))%len(e.loops)]
		c := &stdConn{nc: nc, loop: l, eng: e, remote: nc.RemoteAddr().String(), wake: make(chan struct{}, 1), done: make(chan struct{})}
		if la, ok := nc.LocalAddr().(*net.TCPAddr); ok {
			c.port = la.Port
		}
		c.data.c = c
		c.open.c = c
		c.shut.c = c
		if err := l.Execute(&c.open); err != nil {
			_ = nc.Close()
			return
		}
	}
}

// stdConn is a standard-library connection. Session work runs on its loop; the
// reader goroutine hands each read to the loop and waits for it to be consumed
// (no copy, natural back-pressure); the writer goroutine drains the queue that
// Write/Writev fill, so a slow peer never blocks a loop.
type stdConn struct {
	nc       net.Conn
	loop     *Loop
	eng      *StdEngine
	sess     Session
	remote   string
	port     int
	idx      int
	closing  bool // loop-only
	closeErr error

	mu       sync.Mutex
	out      []byte
	inflight int
	wake     chan struct{}
	done     chan struct{}
	closed   atomic.Bool
	once     sync.Once
	readErr  error

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
	s := c.eng.h.OnOpen(c)
	if s == nil {
		_ = c.nc.Close()
		return nil
	}
	c.sess = s
	c.idx = len(c.loop.std)
	c.loop.std = append(c.loop.std, c)
	c.eng.conns.Add(1)
	c.eng.mu.Lock()
	c.eng.live[c] = struct{}{}
	c.eng.mu.Unlock()
	c.data.back = make(chan struct{}, 1)
	go c.readLoop()
	go c.writeLoop()
	return nil
}

func (t *dataTask) Run(context.Context) error {
	c := t.c
	if !c.closing {
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
	return nil
}

func (c *stdConn) readLoop() {
	buf := make([]byte, StdReadBufferSize)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.data.p = buf[:n]
			if c.loop.Execute(&c.data) != nil {
				break
			}
			<-c.data.back
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

// StdCloseFlushTimeout bounds how long Close waits for queued output (an error
// response, a WebSocket close frame) to reach a peer before the socket closes.
const StdCloseFlushTimeout = 2 * time.Second

func (c *stdConn) writeLoop() {
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.done:
			// Closing: write what is queued (bounded), then close the socket,
			// which also ends the reader.
			c.mu.Lock()
			buf, c.out = c.out, nil
			c.mu.Unlock()
			if len(buf) > 0 {
				_ = c.nc.SetWriteDeadline(time.Now().Add(StdCloseFlushTimeout))
				_, _ = c.nc.Write(buf)
			}
			if tc, ok := c.nc.(*net.TCPConn); ok {
				_ = tc.CloseWrite() // FIN after the data, so the peer reads it all
			}
			_ = c.nc.Close()
			return
		}
		c.mu.Lock()
		buf, c.out = c.out, buf[:0]
		c.inflight = len(buf)
		c.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
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

func (c *stdConn) Write(b []byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrStopped
	}
	c.mu.Lock()
	c.out = append(c.out, b...)
	c.mu.Unlock()
	c.signal()
	return len(b), nil
}

func (c *stdConn) Writev(bufs [][]byte) (int, error) {
	if c.closed.Load() {
		return 0, ErrStopped
	}
	n := 0
	c.mu.Lock()
	for _, b := range bufs {
		c.out = append(c.out, b...)
		n += len(b)
	}
	c.mu.Unlock()
	c.signal()
	return n, nil
}

func (c *stdConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *stdConn) OutboundBuffered() int {
	c.mu.Lock()
	n := len(c.out) + c.inflight
	c.mu.Unlock()
	return n
}

// Close closes the connection after its queued output is written (see
// StdCloseFlushTimeout). Safe from any goroutine.
func (c *stdConn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.done) // the writer drains, then closes the socket
	})
	return nil
}

// closeNow closes at once, dropping queued output (the peer is gone).
func (c *stdConn) closeNow() {
	c.Close()
	_ = c.nc.Close()
}

func (c *stdConn) RemoteAddr() string { return c.remote }
func (c *stdConn) LocalPort() int     { return c.port }
func (c *stdConn) Loop() *Loop        { return c.loop }
