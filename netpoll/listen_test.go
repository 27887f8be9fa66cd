package netpoll

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A busy port fails Start with the bind's own error, keep-alive or not.
// (With gnet's keep-alive option the error was a setsockopt on the closed
// descriptor, and Start did not retry it.)
func TestStartBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, ka := range []time.Duration{0, 30 * time.Second} {
		e, err := Start(Config{Addrs: []string{ln.Addr().String()}, Loops: 1, TCPKeepAlive: ka}, &testHandler{})
		if err == nil {
			_ = e.Stop(t.Context())
			t.Fatalf("keep-alive %v: Start on a busy port succeeded", ka)
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("keep-alive %v: Start on a busy port: %v", ka, err)
		}
	}
}

// Accepted sockets get keep-alive: probes after the idle time, every fifth
// of it, five of them; a sub-second setting rounds up to a second.
func TestAcceptedKeepAlive(t *testing.T) {
	for _, c := range []struct {
		ka               time.Duration
		idle, intvl, cnt int
	}{
		{30 * time.Second, 30, 6, 5},
		{200 * time.Millisecond, 1, 1, 5},
	} {
		opts := make(chan [4]int, 1)
		h := &testHandler{newSession: func(cn Conn) Session {
			fd := cn.(*conn).fd
			var got [4]int
			var errs [4]error
			got[0], errs[0] = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
			got[1], errs[1] = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
			got[2], errs[2] = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
			got[3], errs[3] = unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
			if err := errors.Join(errs[:]...); err != nil {
				t.Error(err)
			}
			opts <- got
			return nil // refuse: the test needs only the socket
		}}
		e, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 1, TCPKeepAlive: c.ka}, h)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := net.Dial("tcp", e.Addrs()[0])
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-opts:
			if want := [4]int{1, c.idle, c.intvl, c.cnt}; got != want {
				t.Errorf("keep-alive %v: SO_KEEPALIVE, idle, interval, count = %v, want %v", c.ka, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no connection opened")
		}
		nc.Close()
		_ = e.Stop(t.Context())
	}
}
