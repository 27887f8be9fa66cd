package netpoll

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// tryWriter is the gnet connection's write-without-queueing method.
type tryWriter interface {
	TryWritev(bufs [][]byte) (int, error)
}

var _ tryWriter = (*conn)(nil)

// tryResult is what trySession saw on the loop.
type tryResult struct {
	n, queued, again int
	unchanged        bool
	err              error
}

// trySession answers the first byte with a TryWritev of more than the socket
// takes, queues the rest with Writev (as fanout does with the rest of one
// message), and tries again while that is queued. It answers the next byte,
// once gnet's queue drained, with a TryWritev of afterDrain.
type trySession struct {
	c       Conn
	payload []byte
	res     chan tryResult
	later   chan tryResult
}

// afterDrain is what trySession writes once the queue drained.
const afterDrain = "after the queue drained"

func (s *trySession) OnData([]byte) error {
	if s.res == nil {
		if s.later != nil {
			var r tryResult
			r.queued = s.c.OutboundBuffered()
			r.n, r.err = s.c.(tryWriter).TryWritev([][]byte{[]byte(afterDrain)})
			s.later <- r
			s.later = nil
		}
		return nil
	}
	tw := s.c.(tryWriter)
	bufs := [][]byte{s.payload[:1000], s.payload[1000:]}
	var r tryResult
	r.n, r.err = tw.TryWritev(bufs)
	r.queued = s.c.OutboundBuffered()
	r.unchanged = len(bufs[0]) == 1000 && &bufs[0][0] == &s.payload[0] &&
		len(bufs[1]) == len(s.payload)-1000 && &bufs[1][0] == &s.payload[1000]
	if _, err := s.c.Writev([][]byte{s.payload[r.n:]}); err != nil {
		r.err = err
	}
	r.again, _ = tw.TryWritev([][]byte{[]byte("must not be sent")})
	s.res <- r
	s.res = nil
	return nil
}
func (s *trySession) OnTick(time.Time) error { return nil }
func (s *trySession) OnClose(error)          {}

// TestTryWritevQueuesNothing (gnet): TryWritev stops where the socket is full,
// queues nothing and leaves its argument alone; while bytes are queued it
// writes nothing; the peer gets the bytes whole and in order.
func TestTryWritevQueuesNothing(t *testing.T) {
	payload := make([]byte, 16<<20)
	for i := range payload {
		payload[i] = byte(i * 13)
	}
	res, later := make(chan tryResult, 1), make(chan tryResult, 1)
	h := &testHandler{newSession: func(c Conn) Session {
		return &trySession{c: c, payload: payload, res: res, later: later}
	}}
	e, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 1, SocketSendBuffer: 64 << 10}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(t.Context()) })
	c := dial(t, e.Addrs()[0])
	if _, err := c.Write([]byte{1}); err != nil { // the peer does not read yet
		t.Fatal(err)
	}
	r := recv(t, res, "the loop's TryWritev")
	switch {
	case r.err != nil:
		t.Fatal(r.err)
	case r.n <= 0 || r.n >= len(payload):
		t.Fatalf("TryWritev wrote %d of %d bytes to a peer that does not read; want a partial write", r.n, len(payload))
	case r.queued != 0:
		t.Fatalf("TryWritev queued %d bytes, want none", r.queued)
	case !r.unchanged:
		t.Fatal("TryWritev modified its argument")
	case r.again != 0:
		t.Fatalf("TryWritev wrote %d bytes while output was queued", r.again)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("payload corrupted or reordered")
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(got[:1]); n != 0 || err == nil {
		t.Fatalf("%d bytes after the payload (err %v): a TryWritev while queued was sent", n, err)
	}

	// Drained: the connection writes directly again.
	if _, err := c.Write([]byte{2}); err != nil {
		t.Fatal(err)
	}
	switch r := recv(t, later, "the TryWritev after the drain"); {
	case r.err != nil:
		t.Fatal(r.err)
	case r.queued != 0 || r.n != len(afterDrain):
		t.Fatalf("after the drain: %d bytes queued, TryWritev wrote %d of %d", r.queued, r.n, len(afterDrain))
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got[:len(afterDrain)]); err != nil || string(got[:len(afterDrain)]) != afterDrain {
		t.Fatalf("read %q, %v", got[:len(afterDrain)], err)
	}
}

// closeTrySession closes its connection, then tries to write.
type closeTrySession struct {
	c   Conn
	res chan error
}

func (s *closeTrySession) OnData([]byte) error {
	_ = s.c.Close()
	_, err := s.c.(tryWriter).TryWritev([][]byte{[]byte("late")})
	s.res <- err
	return nil
}
func (s *closeTrySession) OnTick(time.Time) error { return nil }
func (s *closeTrySession) OnClose(error)          {}

// TestTryWritevAfterClose (gnet): like every Conn method, TryWritev sends
// nothing once Close was called.
func TestTryWritevAfterClose(t *testing.T) {
	res := make(chan error, 1)
	h := &testHandler{newSession: func(c Conn) Session { return &closeTrySession{c: c, res: res} }}
	e, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 1}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(t.Context()) })
	c := dial(t, e.Addrs()[0])
	if _, err := c.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, res, "TryWritev after Close"); !errors.Is(err, ErrStopped) {
		t.Fatalf("TryWritev after Close: %v, want ErrStopped", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("the peer got %q after Close", b)
	}
}
