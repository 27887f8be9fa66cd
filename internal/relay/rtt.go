package relay

import (
	"crypto/tls"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// rtt returns the kernel's smoothed round-trip time of c's TCP connection
// (TCP_INFO), or 0 when it is not a TCP connection or the kernel does not
// say. It allocates; call it at most once per readQuantum.
func rtt(c net.Conn) time.Duration {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0
	}
	var d time.Duration
	_ = raw.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			d = time.Duration(info.Rtt) * time.Microsecond
		}
	})
	return d
}
