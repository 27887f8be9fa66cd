package netpoll

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReadDeferrer is implemented by connections whose input may wait for the
// loop's tick. Type-assert a Conn to use it; the standard-library transport
// does not implement it.
//
// With deferral on, the connection's bytes wait in the socket (SO_RCVLOWAT)
// until DeferredReadLowat of them have arrived or the loop's next tick
// (Config.Tick) reads them, so a publisher whose viewers get their bytes in
// batch windows of a tick wakes its loop about once per tick instead of at
// every message. What deferral changes for the peer: its messages, pings and
// commands included, are read up to a tick late. End of stream and errors
// still wake the loop at once.
type ReadDeferrer interface {
	// DeferReads turns deferral on or off. Off, reads are prompt again; the
	// bytes already waiting are read at the next tick. Loop-only; safe after
	// close (it does nothing).
	DeferReads(on bool) error
}

// DeferredReadLowat is the socket's SO_RCVLOWAT while its reads are
// deferred: this many waiting bytes wake the loop before the tick.
const DeferredReadLowat = 64 << 10

// maxDeferredRead bounds the bytes one tick reads from one connection; the
// rest waits for the next tick or wakes the loop as a normal read.
const maxDeferredRead = 1 << 20

// DeferReads implements ReadDeferrer.
func (c *conn) DeferReads(on bool) error {
	if c.isClosed() || c.deferred == on {
		return nil
	}
	lowat := 1
	if on {
		lowat = DeferredReadLowat
	}
	if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVLOWAT, lowat); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVLOWAT", err)
	}
	c.deferred = on
	if !c.listed {
		// Listed until a tick finds it closed or prompt: the tick after
		// DeferReads(false) still reads what waited.
		c.listed = true
		c.loop.deferred = append(c.loop.deferred, c)
	}
	return nil
}

// readDeferred reads the waiting bytes of the loop's deferred connections
// and hands them to their sessions (the tick, before the sessions' sweep).
// Loop-only.
func (l *Loop) readDeferred() {
	for i := 0; i < len(l.deferred); {
		c := l.deferred[i]
		if !c.isClosed() {
			l.drain(c)
		}
		if c.isClosed() || !c.deferred {
			c.listed = false
			last := len(l.deferred) - 1
			l.deferred[i] = l.deferred[last]
			l.deferred[last] = nil
			l.deferred = l.deferred[:last]
			continue
		}
		i++
	}
}

// drain reads c until the socket is empty or maxDeferredRead bytes were read,
// handing each read to the session; end of stream, a read error or a session
// error closes c as a read in gnet would. Loop-only.
func (l *Loop) drain(c *conn) {
	if l.rbuf == nil {
		l.rbuf = make([]byte, l.readCap)
	}
	for total := 0; total < maxDeferredRead; {
		n, errno := read(c.fd, l.rbuf)
		switch {
		case errno == unix.EAGAIN:
			return
		case errno != 0:
			l.closeConn(c, os.NewSyscallError("read", errno))
			return
		case n == 0:
			l.closeConn(c, os.NewSyscallError("read", io.EOF))
			return
		}
		if err := c.sess.OnData(l.rbuf[:n]); err != nil {
			l.closeConn(c, err)
			return
		}
		if c.isClosed() || n < len(l.rbuf) {
			return
		}
		total += n
	}
}

// closeConn closes c from the loop with err as the reason OnClose gets.
// Loop-only.
func (l *Loop) closeConn(c *conn, err error) {
	c.markClosing(err)
	_ = l.el.Close(c.gc)
}

// read is read(2) on a non-blocking socket, as a raw system call (see writev).
func read(fd int, b []byte) (int, syscall.Errno) {
	for {
		r, _, errno := syscall.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno != syscall.EINTR {
			return int(r), errno
		}
	}
}
