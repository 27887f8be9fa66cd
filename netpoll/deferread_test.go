package netpoll

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// deferSession turns deferral on at 'D' and off at 'P', fails at 'E', and
// records everything it reads and how many reads it got.
type deferSession struct {
	c      Conn
	mu     sync.Mutex
	got    bytes.Buffer
	reads  int
	closed chan error
}

var errBadByte = errors.New("deferSession: E")

func (s *deferSession) OnData(p []byte) error {
	s.mu.Lock()
	s.got.Write(p)
	s.reads++
	s.mu.Unlock()
	for _, b := range p {
		switch b {
		case 'D', 'P':
			if err := s.c.(ReadDeferrer).DeferReads(b == 'D'); err != nil {
				return err
			}
		case 'E':
			return errBadByte
		}
	}
	return nil
}
func (s *deferSession) OnTick(time.Time) error { return nil }
func (s *deferSession) OnClose(err error)      { s.closed <- err }

func (s *deferSession) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.String(), s.reads
}

// startDefer starts a gnet engine with a 50 ms tick whose sessions are
// deferSessions, handed to the test as they open.
func startDefer(t *testing.T) (*Engine, chan *deferSession) {
	t.Helper()
	opened := make(chan *deferSession, 4)
	h := &testHandler{newSession: func(c Conn) Session {
		s := &deferSession{c: c, closed: make(chan error, 1)}
		opened <- s
		return s
	}}
	e, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 1, Tick: 50 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(t.Context()) })
	return e, opened
}

// deferredConn connects to a fresh engine (startDefer) and turns deferral on
// for the connection: its session has read "D".
func deferredConn(t *testing.T) (net.Conn, *deferSession) {
	t.Helper()
	e, opened := startDefer(t)
	c := dial(t, e.Addrs()[0])
	s := recv(t, opened, "session")
	if _, err := c.Write([]byte("D")); err != nil {
		t.Fatal(err)
	}
	waitGot(t, s, "D")
	return c, s
}

// waitGot waits (bounded) until the session has read want.
func waitGot(t *testing.T, s *deferSession, want string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, reads := s.snapshot()
		if got == want {
			return reads
		}
		if !strings.HasPrefix(want, got) {
			t.Fatalf("read %q, want a prefix of %q", got, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %q, want %q", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDeferReads: with deferral on, 40 small writes 5 ms apart reach the
// session in order in a few tick reads instead of one read each; after 'P'
// reads are prompt again and nothing is lost or reordered across the switch.
func TestDeferReads(t *testing.T) {
	e, opened := startDefer(t)
	c := dial(t, e.Addrs()[0])
	s := recv(t, opened, "session")
	if _, err := c.Write([]byte("D")); err != nil {
		t.Fatal(err)
	}
	base := waitGot(t, s, "D")
	want := "D"
	for i := range 40 {
		b := []byte{'a' + byte(i%26)}
		want += string(b)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	reads := waitGot(t, s, want) - base
	// About 200 ms of writes at a 50 ms tick: a handful of tick reads. (A
	// prompt read takes each write on its own, 40 reads, unless the machine
	// is so slow that writes pile up.)
	t.Logf("%d reads for 40 deferred writes", reads)
	if reads > 20 {
		t.Errorf("%d reads for 40 deferred writes", reads)
	}
	if _, err := c.Write([]byte("P")); err != nil {
		t.Fatal(err)
	}
	want += "P"
	waitGot(t, s, want)
	for i := range 5 {
		b := []byte{'0' + byte(i)}
		want += string(b)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		waitGot(t, s, want)
	}
}

// TestDeferredEndOfStream: bytes written just before the peer closes are
// read, then the session closes, whether the tick or the end of stream comes
// first.
func TestDeferredEndOfStream(t *testing.T) {
	c, s := deferredConn(t)
	if _, err := c.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	recv(t, s.closed, "OnClose")
	if got, _ := s.snapshot(); got != "Dlast words" {
		t.Errorf("read %q before the close", got)
	}
}

// TestDeferredReadError: a session error on bytes a tick read closes the
// connection with that error, as a prompt read would.
func TestDeferredReadError(t *testing.T) {
	c, s := deferredConn(t)
	if _, err := c.Write([]byte("xE")); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, s.closed, "OnClose"); !errors.Is(err, errBadByte) {
		t.Errorf("OnClose(%v), want the session's error", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("client read %d bytes from a closed connection", n)
	}
}

// TestDeferredLargeWrite: a write larger than the low-water mark and than a
// read buffer arrives whole and in order.
func TestDeferredLargeWrite(t *testing.T) {
	c, s := deferredConn(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*DeferredReadLowat/16+5)
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	waitGot(t, s, "D"+string(big))
}
