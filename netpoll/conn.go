package netpoll

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// conn adapts a gnet.Conn to Conn.
type conn struct {
	gc     gnet.Conn // gnet allocates a new one per connection: never reused
	fd     int       // the descriptor number, which a later connection may reuse
	loop   *Loop
	remote string
	port   int
	kind   int

	sess     Session // loop-only
	idx      int     // loop-only: index in loop.conns
	closing  bool    // loop-only: OnClose ran or a loop path is closing it
	closeErr error   // loop-only
	deferred bool    // loop-only: reads wait for the tick (ReadDeferrer)
	listed   bool    // loop-only: in loop.deferred
	// viaGnet is set when bytes were handed to gnet's write functions, the
	// only way into its outbound buffer, and cleared when that buffer is
	// found empty: until then queued() needs no look at gnet's connection
	// (a cache miss per viewer and write). Loop-only.
	viaGnet bool
	// closed is set by Close (any goroutine) and by every loop path that
	// closes; Write, Writev and OutboundBuffered check it, so nothing reaches
	// the descriptor once closing was requested.
	closed atomic.Bool
	// sent counts the bytes the connection accepted to send (written or
	// queued), for operators. Written on the loop, read from any goroutine.
	sent atomic.Uint64
}

// BytesSent returns the bytes the connection accepted to send so far
// (written or queued). Any goroutine.
func (c *conn) BytesSent() uint64 { return c.sent.Load() }

// markClosing records err as the reason OnClose gets and closes c for
// writes, before a loop path hands it to gnet to close. Loop-only.
func (c *conn) markClosing(err error) {
	c.closeErr = err
	c.closing = true
	c.closed.Store(true)
}

// isClosed reports whether the connection is closed or closing. Loop-only.
func (c *conn) isClosed() bool { return c.closing || c.closed.Load() }

// Write sends b (see Conn). After close it returns ErrStopped and sends
// nothing. Loop-only.
func (c *conn) Write(b []byte) (int, error) {
	if c.isClosed() {
		return 0, ErrStopped
	}
	c.viaGnet = true
	n, err := c.gc.Write(b)
	c.sent.Add(uint64(n))
	return n, err
}

// OutboundBuffered returns gnet's queued bytes, or 0 after close. Loop-only.
func (c *conn) OutboundBuffered() int {
	if c.isClosed() {
		return 0
	}
	return c.queued()
}

// queued returns the bytes in gnet's outbound buffer. Loop-only.
func (c *conn) queued() int {
	if !c.viaGnet {
		return 0
	}
	n := c.gc.OutboundBuffered()
	if n == 0 {
		c.viaGnet = false
	}
	return n
}

// Close asks gnet to close the connection (OnClose follows on the loop); it
// flushes what it can without blocking. Later calls do nothing. Safe from any
// goroutine.
func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	return c.gc.Close()
}

func (c *conn) RemoteAddr() string { return c.remote }
func (c *conn) LocalPort() int     { return c.port }
func (c *conn) ListenerKind() int  { return c.kind }
func (c *conn) Loop() EventLoop    { return c.loop }

// maxIov is Linux's UIO_MAXIOV.
const maxIov = 1024

// iovecs is a loop's scratch array for writev(2); a fixed array, so building the
// system call's argument never allocates (x/sys's Writev allocates past 8 slices).
type iovecs [maxIov]unix.Iovec

// Writev writes bufs with one writev(2) when nothing is queued, and hands what the
// socket did not take to gnet's outbound buffer (which copies it and arms the
// writable event). With data already queued, it appends to the queue to keep order.
// After close it returns ErrStopped and writes nothing. Loop-only.
func (c *conn) Writev(bufs [][]byte) (int, error) {
	if c.isClosed() {
		return 0, ErrStopped
	}
	if c.queued() > 0 {
		m, err := c.queue(bufs)
		c.sent.Add(uint64(m))
		return m, err
	}
	n, err := c.writeNow(bufs)
	if err != nil {
		c.sent.Add(uint64(n))
		return n, err
	}
	// Skip what was written and queue the rest in gnet, which copies it and
	// writes it when the socket drains.
	rest := n
	for len(bufs) > 0 && rest >= len(bufs[0]) {
		rest -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) == 0 {
		c.sent.Add(uint64(n))
		return n, nil
	}
	bufs[0] = bufs[0][rest:]
	// gnet hands a call's slices to writev(2) as they are when its queue is
	// empty, and writev refuses more than UIO_MAXIOV of them: queue() passes at
	// most that many at a time.
	m, err := c.queue(bufs)
	c.sent.Add(uint64(n + m))
	return n + m, err
}

// TryWritev writes as much of bufs as the socket takes now and queues nothing:
// it returns the number of bytes written, which is less than the total when
// the socket is full. It neither modifies bufs nor keeps them. While gnet still
// holds queued output (OutboundBuffered > 0), that must go first: TryWritev
// then writes nothing and returns 0. After close it returns ErrStopped.
// Loop-only.
//
// It lets a caller whose bytes are shared and retained elsewhere (fanout's
// ring) copy nothing into a per-connection buffer: it queues, with Writev,
// only what it cannot take back later.
func (c *conn) TryWritev(bufs [][]byte) (int, error) {
	if c.isClosed() {
		return 0, ErrStopped
	}
	if c.queued() > 0 {
		return 0, nil
	}
	n, err := c.writeNow(bufs)
	c.sent.Add(uint64(n))
	return n, err
}

// writeNow writes bufs with as few writev(2) calls as UIO_MAXIOV allows, until
// the socket is full, and returns the bytes written. bufs is not modified. A
// write error closes the connection.
func (c *conn) writeNow(bufs [][]byte) (int, error) {
	total := 0
	iov := &c.loop.iov
	for len(bufs) > 0 {
		cnt, batch, used := 0, 0, 0
		for _, b := range bufs {
			if cnt == maxIov {
				break
			}
			used++
			if len(b) == 0 {
				continue
			}
			iov[cnt].Base = &b[0]
			iov[cnt].SetLen(len(b))
			cnt++
			batch += len(b)
		}
		if cnt == 0 {
			return total, nil
		}
		n, err := writev(c.fd, iov[:cnt])
		clear(iov[:cnt])
		if err != nil {
			_ = c.Close() // the peer is gone (EPIPE, ECONNRESET): OnClose follows
			return total, err
		}
		total += n
		if n < batch {
			return total, nil // the socket is full
		}
		bufs = bufs[used:]
	}
	return total, nil
}

// queue appends bufs to gnet's outbound queue in runs gnet can take.
func (c *conn) queue(bufs [][]byte) (int, error) {
	total := 0
	c.viaGnet = true
	for len(bufs) > 0 {
		k := min(len(bufs), maxIov)
		m, err := c.gc.Writev(bufs[:k])
		total += m
		if err != nil {
			return total, err
		}
		bufs = bufs[k:]
	}
	return total, nil
}

// writev issues writev(2) on a non-blocking socket. EAGAIN counts as 0 bytes.
// It is a raw system call: a non-blocking write returns in microseconds, and
// telling the scheduler about each one (entersyscall/exitsyscall) costs time
// for nothing and, with GOMAXPROCS=1, lets sysmon hand the loop's P to another
// thread in the middle of a fanout flush.
func writev(fd int, iov []unix.Iovec) (int, error) {
	for {
		r, _, errno := syscall.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch errno {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, fmt.Errorf("netpoll: writev: %w", errno)
		}
	}
}

// slogAdapter routes gnet's logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(f string, args ...any) {
	a.l.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(f, args...))
}
func (a slogAdapter) Infof(f string, args ...any) {
	a.l.Log(context.Background(), slog.LevelDebug, fmt.Sprintf(f, args...))
}
func (a slogAdapter) Warnf(f string, args ...any)  { a.l.Warn(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Fatalf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
