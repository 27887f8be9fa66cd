package netpoll

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testHandler creates sessions from a factory and records ticks.
type testHandler struct {
	newSession func(c Conn) Session
	ticks      atomic.Int64
}

func (h *testHandler) OnOpen(c Conn) Session               { return h.newSession(c) }
func (h *testHandler) OnLoopTick(l EventLoop, _ time.Time) { h.ticks.Add(1) }

// blaster answers any byte with a large payload written in many slices, so
// writev takes its partial-write path when the peer reads slowly.
type blaster struct {
	c       Conn
	payload []byte
	onClose func(error)
	tickErr error
}

func (b *blaster) OnData(p []byte) error {
	// 3000 slices: more than one writev (1024 iovecs) and more than a socket
	// buffer, so both the batching and the queue-the-rest paths run.
	var bufs [][]byte
	for off := 0; off < len(b.payload); off += len(b.payload) / 3000 {
		end := min(off+len(b.payload)/3000, len(b.payload))
		bufs = append(bufs, b.payload[off:end])
	}
	_, err := b.c.Writev(bufs)
	return err
}
func (b *blaster) OnTick(time.Time) error { return b.tickErr }
func (b *blaster) OnClose(err error) {
	if b.onClose != nil {
		b.onClose(err)
	}
}

func startBoth(t *testing.T, h Handler) map[string]Transport {
	t.Helper()
	out := map[string]Transport{}
	g, err := Start(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 2, Tick: 20 * time.Millisecond, Sweep: 20 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	out["gnet"] = g
	s, err := StartStd(Config{Addrs: []string{"127.0.0.1:0"}, Loops: 2, Tick: 20 * time.Millisecond, Sweep: 20 * time.Millisecond}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	out["std"] = s
	t.Cleanup(func() {
		for _, tr := range out {
			_ = tr.Stop(t.Context())
		}
	})
	return out
}

// TestWritevLargeBatchSlowReader: a 12 MiB reply in 3000 slices to a reader that
// starts late arrives complete and in order on both transports.
func TestWritevLargeBatchSlowReader(t *testing.T) {
	payload := make([]byte, 12<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	want := sha256.Sum256(payload)
	h := &testHandler{newSession: func(c Conn) Session { return &blaster{c: c, payload: payload} }}
	for name, tr := range startBoth(t, h) {
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", tr.Addrs()[0], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(16 << 10)
			}
			if _, err := c.Write([]byte{1}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // let the server hit a full socket
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != want {
				t.Fatal("payload corrupted or reordered")
			}
		})
	}
}

// writer sends its first reply, then keeps order with more replies while the
// first is still queued.
type orderSession struct {
	c Conn
	n int
}

func (s *orderSession) OnData(p []byte) error {
	for range p {
		s.n++
		msg := bytes.Repeat([]byte{byte(s.n)}, 256<<10)
		if _, err := s.c.Writev([][]byte{msg[:1000], msg[1000:]}); err != nil {
			return err
		}
	}
	return nil
}
func (s *orderSession) OnTick(time.Time) error { return nil }
func (s *orderSession) OnClose(error)          {}

// TestWritevKeepsOrderWhenQueued: once bytes are queued, later writes queue
// behind them instead of overtaking.
func TestWritevKeepsOrderWhenQueued(t *testing.T) {
	h := &testHandler{newSession: func(c Conn) Session { return &orderSession{c: c} }}
	for name, tr := range startBoth(t, h) {
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", tr.Addrs()[0], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got := make([]byte, 8*(256<<10))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
			for i := range 8 {
				blk := got[i*(256<<10) : (i+1)*(256<<10)]
				if blk[0] != byte(i+1) || blk[len(blk)-1] != byte(i+1) {
					t.Fatalf("block %d starts with %d and ends with %d", i, blk[0], blk[len(blk)-1])
				}
			}
		})
	}
}

// replyClose writes a reply and closes: the reply must reach the peer.
type replyClose struct{ c Conn }

func (s *replyClose) OnData(p []byte) error {
	_, _ = s.c.Write(bytes.Repeat([]byte("r"), 100<<10))
	return s.c.Close()
}
func (s *replyClose) OnTick(time.Time) error { return nil }
func (s *replyClose) OnClose(error)          {}

func TestReplyThenCloseIsDelivered(t *testing.T) {
	h := &testHandler{newSession: func(c Conn) Session { return &replyClose{c: c} }}
	for name, tr := range startBoth(t, h) {
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", tr.Addrs()[0], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write([]byte("x"))
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			if len(got) != 100<<10 {
				t.Fatalf("got %d bytes before the close, want %d", len(got), 100<<10)
			}
		})
	}
}

// TestSweepClosesOnTickError: a session whose OnTick fails is closed with that
// error, and loops tick.
func TestSweepClosesOnTickError(t *testing.T) {
	errDeadline := errors.New("deadline")
	var mu sync.Mutex
	closed := map[string]error{}
	done := make(chan string, 4)
	var h *testHandler
	h = &testHandler{newSession: func(c Conn) Session {
		return &blaster{c: c, tickErr: errDeadline, onClose: func(err error) {
			mu.Lock()
			closed[c.RemoteAddr()] = err
			mu.Unlock()
			done <- c.RemoteAddr()
		}}
	}}
	for name, tr := range startBoth(t, h) {
		t.Run(name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", tr.Addrs()[0], 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case addr := <-done:
				mu.Lock()
				err := closed[addr]
				mu.Unlock()
				if !errors.Is(err, errDeadline) {
					t.Fatalf("closed with %v, want the tick error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("session not closed by the sweep")
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection still open")
			}
		})
	}
	if h.ticks.Load() == 0 {
		t.Fatal("OnLoopTick never ran")
	}
}

func TestResolveAddrPortZero(t *testing.T) {
	a, p, err := resolveAddr("127.0.0.1:0", nil)
	if err != nil || p == 0 || a == "127.0.0.1:0" {
		t.Fatalf("ResolveAddr: %q %d %v", a, p, err)
	}
	if _, _, err := resolveAddr("nonsense", nil); err == nil {
		t.Fatal("bad address accepted")
	}
}

// Port-0 addresses of one engine resolve to distinct ports: each reserving
// listener stays open until all are resolved (closing the first at once let
// the OS hand its port out again, and an RTMP and an HTTP listener got the
// same port).
func TestResolveHeldPortsDistinct(t *testing.T) {
	for range 200 {
		var held []net.Listener
		_, a, err := resolveAddr("127.0.0.1:0", &held)
		if err != nil {
			t.Fatal(err)
		}
		_, b, err := resolveAddr("127.0.0.1:0", &held)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range held {
			_ = ln.Close()
		}
		if a == b {
			t.Fatalf("both addresses resolved to port %d", a)
		}
	}
}
