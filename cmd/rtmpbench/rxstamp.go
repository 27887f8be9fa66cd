package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket arrival stamps. A player's latency is measured twice: when the load
// tool has decoded the frame (after its reader goroutine got the core), and
// when the frame's last byte reached the player's socket. The second is the
// server's latency (with the publisher's write and the loopback), without the
// time the tool takes to get to the reader, which at hundreds of readers on
// one core is the larger part.
//
// Every player socket asks the kernel to stamp received segments
// (SO_TIMESTAMPNS) and is read with recvmsg. Linux's TCP receive returns the
// stamp of the last segment a read consumed, so when a read completes a
// frame, its stamp is the arrival of the frame's last byte (or of bytes after
// it that arrived with it).
//
// Linux turns stamping on a little after the first socket asks for it (a
// deferred switch of the receive path), so the first segments of a run may
// come unstamped: a read without a stamp leaves the frame it completes
// untimed at the socket (stamp 0), never timed with an older read's stamp.

// rxStampSpace is the control buffer for one SCM_TIMESTAMPNS message.
var rxStampSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// rxConn is a TCP connection whose reads keep the kernel's arrival stamp of
// the last segment read. One goroutine reads at a time; it owns the stamp.
// Other methods are the TCP connection's; it embeds net.Conn, not the
// *net.TCPConn, so that no promoted WriteTo reads past Read. Read does not
// allocate.
type rxConn struct {
	net.Conn
	rc     syscall.RawConn
	recvFn func(fd uintptr) bool // c.recv, bound once

	// The read in progress (reader-owned).
	msg   unix.Msghdr
	iov   unix.Iovec
	oob   []byte
	n     int
	errno syscall.Errno

	last int64 // arrival of the last segment read, Unix ns; 0 when the last read had no stamp
}

// newRxConn turns on arrival stamps for nc, a TCP connection.
func newRxConn(nc net.Conn) (*rxConn, error) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, fmt.Errorf("rtmpbench: receive stamps: %T is not a TCP connection", nc)
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("rtmpbench: setsockopt SO_TIMESTAMPNS: %w", serr)
	}
	c := &rxConn{Conn: tc, rc: rc, oob: make([]byte, rxStampSpace)}
	c.recvFn = c.recv
	return c, nil
}

// rxDial returns dial with each connection wrapped in an rxConn.
func rxDial(dial dialFunc) dialFunc {
	return wrapDial(dial, func(nc net.Conn) (net.Conn, error) { return newRxConn(nc) })
}

// Read reads like the TCP connection's Read (deadlines and Close included)
// and keeps the arrival stamp of the data read.
func (c *rxConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.iov.Base = &b[0]
	c.iov.SetLen(len(b))
	err := c.rc.Read(c.recvFn)
	c.iov.Base = nil // keep no reference to b
	switch {
	case err != nil:
		return 0, err
	case c.errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Addr: c.RemoteAddr(), Err: os.NewSyscallError("recvmsg", c.errno)}
	case c.n == 0:
		return 0, io.EOF
	}
	c.last, _ = parseRxStamp(c.oob[:c.msg.Controllen])
	return c.n, nil
}

// SyscallConn returns the socket's raw connection (for tcp_info probes).
func (c *rxConn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// recv is one non-blocking recvmsg; false asks the poller to wait.
func (c *rxConn) recv(fd uintptr) bool {
	for {
		c.msg.Iov = &c.iov
		c.msg.SetIovlen(1)
		c.msg.Control = &c.oob[0]
		c.msg.SetControllen(len(c.oob))
		c.msg.Flags = 0
		n, _, errno := syscall.Syscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&c.msg)), syscall.MSG_DONTWAIT)
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.n, c.errno = int(n), errno
		return true
	}
}

// stamp returns the arrival (Unix ns) of the last segment read, 0 when the
// last read had no stamp or c is nil (a connection without stamps).
// Reader-only.
func (c *rxConn) stamp() int64 {
	if c == nil {
		return 0
	}
	return c.last
}

// parseRxStamp returns the SCM_TIMESTAMPNS stamp (Unix ns) in a control
// buffer filled by recvmsg. It does not allocate.
func parseRxStamp(oob []byte) (int64, bool) {
	hdr := unix.SizeofCmsghdr
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return ts.Nano(), true
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0, false
}

// rxOf returns the rxConn under c (through a pacedConn), or nil.
func rxOf(c net.Conn) *rxConn {
	switch v := c.(type) {
	case *rxConn:
		return v
	case *pacedConn:
		return rxOf(v.Conn)
	}
	return nil
}
