package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/server"
)

// Budgets on the registry and the outbound path, tested from a real client
// without ffmpeg; the hostile suite (hostile/) drives the same attacks at
// scale against rtmpd.

// rawCommand chunk-encodes an AMF0 command at the client's default chunk size.
var rawCommand = enginetest.Command

// closedWithin reports whether the server closes c within d (reading and
// discarding whatever it sends).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// A play of a name nobody publishes leaves nothing in the registry once the
// player leaves, and a connection that keeps bringing new names in is closed
// past Config.MaxNamesPerConn.
func TestNameChurnBudget(t *testing.T) {
	ts := startServer(t, server.Config{MaxNamesPerConn: 16}, nil)
	ctx := testContext(t)
	c := dial(t, ctx, ts.url("live"), client.Config{})
	nc := c.RawConn()

	// One play and deleteStream: nothing stays behind.
	if _, err := nc.Write(append(rawCommand(0, "createStream", 2), append(rawCommand(1, "play", 0, "ghost"), rawCommand(0, "deleteStream", 0, 1)...)...)); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { return ts.Stats().ConnectionsTotal > 0 && len(ts.Streams()) == 0 }) {
		t.Fatalf("streams after one play left: %+v", ts.Streams())
	}

	// Churn: past the cap the connection is closed.
	var burst []byte
	for i := range 40 {
		burst = append(burst, rawCommand(0, "createStream", float64(3+i))...)
		burst = append(burst, rawCommand(1, "play", 0, "churn-"+string(rune('a'+i%26))+string(rune('a'+i/26)))...)
		burst = append(burst, rawCommand(0, "deleteStream", 0, 1)...)
	}
	_, _ = nc.Write(burst)
	if !closedWithin(nc, 10*time.Second) {
		t.Fatal("name churn past MaxNamesPerConn was not closed")
	}
	if !waitFor(5*time.Second, func() bool { return len(ts.Streams()) == 0 }) {
		t.Fatalf("streams left behind by the churner: %d", len(ts.Streams()))
	}
}

// Waiting entries (plays of names that are not live) are capped server-wide.
func TestIdleStreamsBudget(t *testing.T) {
	ts := startServer(t, server.Config{MaxIdleStreams: 3}, nil)
	ctx := testContext(t)
	for _, n := range []string{"w1", "w2", "w3"} {
		player(t, ctx, ts, "live", n, client.Config{})
	}
	c := dial(t, ctx, ts.url("live/w4"), client.Config{})
	err := c.Play(ctx, "w4")
	var se *client.StatusError
	if !errors.As(err, &se) || se.Status.Code != "NetStream.Play.StreamNotFound" {
		t.Fatalf("4th waiting play: %v, want NetStream.Play.StreamNotFound", err)
	}
	// A live stream can still be played.
	pub := publisher(t, ctx, ts, "live", "on", client.Config{})
	_ = pub.WriteMessage(chunkcodec.TypeVideo, 0, synthSeqHeader)
	player(t, ctx, ts, "live", "on", client.Config{})
}

// A peer that sends commands and never reads is closed once its replies pass
// Config.MaxControlBacklog, instead of the server queueing them without end.
func TestCommandSpamBacklog(t *testing.T) {
	ts := startServer(t, server.Config{MaxControlBacklog: 64 << 10}, nil)
	ctx := testContext(t)
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c := dial(t, ctx, ts.url("live"), client.Config{Dialer: d})
	nc := c.RawConn()
	var burst []byte
	for i := range 2000 {
		burst = append(burst, rawCommand(0, "noSuchCommandWithALongishName", float64(10+i), "padding padding padding padding")...)
	}
	sent := 0
	_ = nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
	for sent < 200<<20 {
		n, err := nc.Write(burst)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= 200<<20 {
		t.Fatalf("server accepted %d MB of commands from a peer that reads nothing", sent>>20)
	}
	if !waitFor(5*time.Second, func() bool { return ts.Stats().Connections == 0 }) {
		t.Fatal("spammer still connected")
	}
	t.Logf("spammer cut off after %d KB of commands", sent>>10)
}

// Connections from one address beyond Config.MaxConnectionsPerIP are refused;
// other addresses are not affected.
func TestPerAddressConnectionBudget(t *testing.T) {
	ts := startServer(t, server.Config{MaxConnectionsPerIP: 3}, nil)
	ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
	defer cancel()
	from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 7)}}
	for i := range 3 {
		dial(t, ctx, ts.url("live"), client.Config{Dialer: from})
		_ = i
	}
	if c, err := client.Dial(ctx, ts.url("live"), client.Config{Dialer: from, HandshakeTimeout: 3 * time.Second}); err == nil {
		_ = c.Close()
		t.Fatal("4th connection from one address was admitted")
	}
	dial(t, ctx, ts.url("live"), client.Config{}) // 127.0.0.1 is another peer
	if ts.Stats().Refused == 0 {
		t.Fatal("refusal not counted")
	}
}

// Server.StartRecording is asynchronous and safe from a handler on the
// publisher's own event loop (it used to wait for a task of that loop: a
// deadlock).
func TestStartRecordingFromLoop(t *testing.T) {
	app := &server.App{}
	var ptr atomic.Pointer[server.Server]
	app.HandleCommand("recordMe", func(c *server.Call) error {
		return ptr.Load().StartRecording("cam", c.Arg(0).Str())
	})
	ts := startServer(t, server.Config{RecordDir: t.TempDir()}, map[string]*server.App{"cam": app})
	srv := ts.Server
	ptr.Store(srv)
	ctx := testContext(t)
	pub := publisher(t, ctx, ts, "cam", "one", client.Config{})
	go func() { _, _ = synthPublish(ctx, pub, 25, 25, 2000, 100) }()
	// The publisher's own loop: a custom command on its own connection.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pub.Call(cctx, "recordMe", "one"); err != nil {
		t.Fatalf("recordMe on the publisher's loop: %v", err)
	}
	if !waitFor(10*time.Second, func() bool { return len(srv.Recorder().List()) == 1 }) {
		t.Fatal("recording did not start")
	}
	ctl := dial(t, ctx, ts.url("cam"), client.Config{Timeout: 5 * time.Second})
	if _, err := ctl.Call(ctx, "recordMe", "one"); err == nil {
		t.Fatal("second StartRecording of a recorded stream did not fail")
	}
}

// playAnswer reads from c until the server answers a play: an onStatus of
// level error, or NetStream.Play.Start; within d.
func playAnswer(c *client.Conn, d time.Duration) (client.Status, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return client.Status{}, err
		}
		if st, ok := client.ParseStatus(m); ok && (st.Level == "error" || st.Code == client.CodePlayStart) {
			return st, nil
		}
	}
}

// together runs fn(0) to fn(n-1) on workers goroutines and returns the
// first error.
func together(n, workers int, fn func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// hookGoroutines is what one HTTP hook call in flight may keep running:
// the server's call, the HTTP transport's reader and writer, and the hook
// server's connection and its background reader (five), with room to spare.
const hookGoroutines = 6

// An HTTP hook that answers nothing until the test lets it holds
// MaxHookCalls plays in flight, and no more: as many clients again trying
// to play meanwhile are refused at once ("server busy", the connection
// closed) without a hook call, and leave no goroutine behind them. Once
// the hook answers, the held plays start, every call's goroutines end, and
// new clients publish and play as usual.
func TestHookCallsBudget(t *testing.T) {
	var inFlight, peak, calls atomic.Int64
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hook.Close)
	var once sync.Once
	answer := func() { once.Do(func() { close(release) }) }
	t.Cleanup(answer) // before hook.Close, which waits for its handlers
	ts := startServer(t, server.Config{TrustedNets: mustPrefixes(t, "127.0.0.0/8")}, map[string]*server.App{
		// A timeout past the test's: only the test ends the calls.
		"hooked": {Hooks: server.HTTPHooks{OnPlay: hook.URL, OnPublish: hook.URL, Timeout: 2 * e2eTimeout}},
	})
	ctx := testContext(t)
	base := runtime.NumGoroutine()
	play := append(rawCommand(0, "createStream", 2), rawCommand(1, "play", 0, "held")...)
	cfg := client.Config{Timeout: 5 * time.Second}

	// MaxHookCalls plays wait for the hook.
	held := make([]*client.Conn, server.MaxHookCalls)
	err := together(len(held), 16, func(i int) error {
		c, err := client.Dial(ctx, ts.url("hooked"), cfg)
		if err != nil {
			return err
		}
		held[i] = c
		_, err = c.RawConn().Write(play)
		return err
	})
	t.Cleanup(func() {
		for _, c := range held {
			if c != nil {
				_ = c.Close()
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return inFlight.Load() == server.MaxHookCalls }) {
		t.Fatalf("%d hook calls in flight, want %d", inFlight.Load(), server.MaxHookCalls)
	}
	holding := runtime.NumGoroutine()
	if grown := holding - base; grown > hookGoroutines*server.MaxHookCalls {
		t.Errorf("%d goroutines more for %d calls in flight", grown, server.MaxHookCalls)
	}

	// As many again are refused at once, while the hook still holds the others.
	err = together(server.MaxHookCalls, 32, func(int) error {
		c, err := client.Dial(ctx, ts.url("hooked"), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.RawConn().Write(play); err != nil {
			return err
		}
		st, err := playAnswer(c, 5*time.Second)
		if err != nil {
			return fmt.Errorf("no answer to a play past the budget: %w", err)
		}
		if st.Code != client.CodePlayFailed || !strings.Contains(st.Description, "server busy") {
			return fmt.Errorf("answer to a play past the budget: %+v", st)
		}
		if !closedWithin(c.RawConn(), 5*time.Second) {
			return errors.New("refused client left open")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, p := calls.Load(), peak.Load(); n != server.MaxHookCalls || p != server.MaxHookCalls {
		t.Fatalf("hook saw %d calls, %d at most in flight; want %d and %d", n, p, server.MaxHookCalls, server.MaxHookCalls)
	}
	if !waitFor(5*time.Second, func() bool { return runtime.NumGoroutine()-holding <= 32 }) {
		t.Errorf("%d goroutines more after %d refused clients", runtime.NumGoroutine()-holding, server.MaxHookCalls)
	}
	t.Logf("goroutines: %d before, %d with %d calls held, %d after %d refusals", base, holding, server.MaxHookCalls, runtime.NumGoroutine(), server.MaxHookCalls)

	// The hook answers: the held plays start.
	answer()
	err = together(len(held), 16, func(i int) error {
		st, err := playAnswer(held[i], 10*time.Second)
		if err == nil && st.Code != client.CodePlayStart {
			err = fmt.Errorf("held play answered %+v", st)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return inFlight.Load() == 0 && runtime.NumGoroutine()-base <= 32 }) {
		t.Errorf("after the answers: %d calls in flight, %d goroutines more than before the flood", inFlight.Load(), runtime.NumGoroutine()-base)
	}

	// New clients are served as usual.
	pub, err := tryPublish(t, ctx, ts, "hooked", "after")
	if err != nil {
		t.Fatalf("publish after the flood: %v", err)
	}
	go func() { _, _ = synthPublish(ctx, pub, 25, 25, 1500, 25*5) }()
	p := dial(t, ctx, ts.url("hooked"), cfg)
	if err := p.Play(ctx, "after"); err != nil {
		t.Fatalf("play after the flood: %v", err)
	}
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player after the flood: %v", err)
	}
	if n := calls.Load(); n != server.MaxHookCalls+2 {
		t.Errorf("hook saw %d calls, want %d", n, server.MaxHookCalls+2)
	}
}
