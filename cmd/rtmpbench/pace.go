package main

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// Paced reading (-read-interval D): a player that reads every D, as a player
// on a render loop does, instead of as soon as data arrives. After its
// connect, a player wakes on ticks D apart; at a tick it reads everything its
// socket holds, and when the socket holds nothing it does not read (a read
// would block and so return at the next arrival, which is prompt reading) but
// sleeps until the next tick. Ticks it overran are skipped. Between ticks the
// server's bytes wait in the player's socket. The connect itself (handshake,
// play, response headers) is never paced.
//
// HTTP-FLV and WebSocket-FLV players dial through the load generator, so
// their connection is a pacedConn. RTMP players read through client.Conn,
// whose buffered reader rtmpbench cannot see into; they read in rounds
// instead: the kernel's count of bytes received on the connection (tcp_info's
// bytes_received), less the RTMP handshake, is where the chunk stream stands
// at the tick, and the player reads messages until its decoder has consumed
// that much.

// MaxReadInterval caps -read-interval.
const MaxReadInterval = time.Second

// errNoBytesReceived reports a kernel whose tcp_info has no bytes_received.
var errNoBytesReceived = errors.New("rtmpbench: -read-interval with RTMP players needs tcp_info bytes_received (Linux 4.1 or later)")

// readTicker is a player's read schedule: ticks interval apart from its
// first wait. Goroutine-owned; it does not allocate.
type readTicker struct {
	interval time.Duration
	next     time.Time
}

// wait sleeps until the next tick. A tick already passed is not made up: the
// schedule restarts from now.
func (t *readTicker) wait() {
	now := time.Now()
	if t.next.IsZero() {
		t.next = now
	}
	t.next = t.next.Add(t.interval)
	if d := t.next.Sub(now); d > 0 {
		time.Sleep(d)
	} else {
		t.next = now
	}
}

// sockProbe looks at a connected TCP socket without reading from it: how
// many bytes have arrived (tcp_info bytes_received, read by the application
// or not), and whether a read would return at once (a byte is queued, the
// peer closed, or the socket failed). Reader-owned; its methods do not
// allocate.
type sockProbe struct {
	rc             syscall.RawConn
	infoFn, peekFn func(fd uintptr) // s.info and s.peek, bound once

	tcpInfo unix.TCPInfo
	optlen  uint32
	partial bool // the kernel's tcp_info ends before bytes_received
	peekBuf [1]byte
	ready   bool
	errno   syscall.Errno
}

// newSockProbe prepares probing nc, a TCP connection.
func newSockProbe(nc net.Conn) (*sockProbe, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("rtmpbench: -read-interval: %T is not a socket", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &sockProbe{rc: rc}
	s.infoFn, s.peekFn = s.info, s.peek
	return s, nil
}

func (s *sockProbe) info(fd uintptr) {
	s.optlen = uint32(unsafe.Sizeof(s.tcpInfo))
	_, _, s.errno = syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&s.tcpInfo)), uintptr(unsafe.Pointer(&s.optlen)), 0)
	s.partial = uintptr(s.optlen) < unsafe.Offsetof(s.tcpInfo.Bytes_received)+unsafe.Sizeof(s.tcpInfo.Bytes_received)
}

func (s *sockProbe) peek(fd uintptr) {
	// recv(fd, 1 byte, MSG_PEEK|MSG_DONTWAIT): a byte or 0 (end of stream)
	// or an error other than EAGAIN all mean a read returns at once.
	_, _, s.errno = syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.peekBuf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	s.ready = s.errno != syscall.EAGAIN
}

// received returns the bytes received on the connection so far.
func (s *sockProbe) received() (uint64, error) {
	if err := s.rc.Control(s.infoFn); err != nil {
		return 0, err
	}
	switch {
	case s.errno != 0:
		return 0, fmt.Errorf("rtmpbench: getsockopt TCP_INFO: %w", s.errno)
	case s.partial:
		return 0, errNoBytesReceived
	}
	return s.tcpInfo.Bytes_received, nil
}

// readable reports whether a read would return at once: with bytes, the
// end of the stream or the socket's error. An error means the connection is
// closed on this side.
func (s *sockProbe) readable() (bool, error) {
	if err := s.rc.Control(s.peekFn); err != nil {
		return false, err
	}
	return s.ready, nil
}

// pacedConn is a net.Conn whose reads, once armed, follow a readTicker: a
// read that returned less than its buffer's length emptied the socket, so
// the next read first sleeps until a tick at which the socket is readable; a
// read that filled its buffer is followed by another at once (the socket may
// hold more). One goroutine reads at a time (net/http reads the response
// headers on its own goroutine, the player then reads the body); writes pass
// through.
type pacedConn struct {
	net.Conn
	probe   *sockProbe
	armed   atomic.Bool // set by the player after its connect
	tick    readTicker  // reader-owned
	drained bool        // reader-owned: the last read emptied the socket
}

// Read reads from the connection, first waiting for a tick at which the
// socket is readable when the connection is armed and the last read emptied
// the socket.
func (c *pacedConn) Read(b []byte) (int, error) {
	if c.drained && c.armed.Load() {
		for {
			c.tick.wait()
			if ok, err := c.probe.readable(); ok || err != nil {
				break // on an error, the read reports it
			}
		}
	}
	n, err := c.Conn.Read(b)
	c.drained = n < len(b)
	return n, err
}

// arm starts pacing c if it is a pacedConn (a nil c, or another conn, is left
// as it is).
func arm(c net.Conn) {
	if pc, ok := c.(*pacedConn); ok {
		pc.armed.Store(true)
	}
}

// pacedDial returns dial, or, with a read interval, a dial that wraps each
// connection in a pacedConn.
func pacedDial(dial dialFunc, interval time.Duration) dialFunc {
	if interval <= 0 {
		return dial
	}
	return wrapDial(dial, func(c net.Conn) (net.Conn, error) {
		probe, err := newSockProbe(c)
		if err != nil {
			return nil, err
		}
		return &pacedConn{Conn: c, probe: probe, tick: readTicker{interval: interval}}, nil
	})
}

// readRTMPPaced is playRTMP's read loop with a read interval: at each tick,
// read the messages of every byte received so far, then sleep until the
// next. A message that had only partly arrived at the tick is waited for.
func (r *runner) readRTMPPaced(p *player, c *client.Conn, rx *rxConn) error {
	probe, err := newSockProbe(c.RawConn())
	if err != nil {
		return err
	}
	tick := readTicker{interval: r.cfg.ReadInterval}
	for {
		n, err := probe.received()
		if err != nil {
			return err
		}
		// Everything after the server's S0, S1 and S2 is chunk stream,
		// which the client's decoder counts as it consumes it.
		target := n - chunkcodec.HandshakeWireSize
		if c.BytesReceived() >= target {
			// Nothing new: the end of the stream or an error shows
			// only to a read.
			ready, err := probe.readable()
			if err != nil {
				return err
			}
			if ready {
				if err := r.readRTMPMessage(p, c, rx); err != nil {
					return err
				}
			}
		}
		for c.BytesReceived() < target {
			if err := r.readRTMPMessage(p, c, rx); err != nil {
				return err
			}
		}
		tick.wait()
	}
}

// readRTMPMessage reads one message and accounts for it; rx, when not nil,
// is c's connection with receive stamps.
func (r *runner) readRTMPMessage(p *player, c *client.Conn, rx *rxConn) error {
	m, err := c.ReadMessage()
	if err != nil {
		return err
	}
	p.bytes.Store(c.BytesReceived())
	if m.TypeID == chunkcodec.TypeVideo {
		r.onVideo(p, m.Payload, rx.stamp())
	}
	return nil
}
