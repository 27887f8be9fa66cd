package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// Edges: rtmpd servers pulling from rtmpd origins, all in-process on
// 127.0.0.1.

// origin starts a server publishing live/name with synthetic video (a
// keyframe a second) until the test ends.
func origin(t *testing.T, ctx context.Context, name string) *testServer {
	t.Helper()
	ts := startServer(t, server.Config{}, nil)
	pub := publisher(t, ctx, ts, "live", name, client.Config{})
	go func() { _, _ = synthPublish(ctx, pub, 25, 25, 1500, 0) }()
	if !waitFor(5*time.Second, func() bool { return ts.publishing("live", name) }) {
		t.Fatal("origin not publishing")
	}
	return ts
}

// edge starts a server whose live app pulls from origins.
func edge(t *testing.T, linger time.Duration, origins ...string) *testServer {
	t.Helper()
	return startServer(t, server.Config{HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, map[string]*server.App{
		"live": {Pull: &server.Pull{Origins: origins, Linger: linger}},
	})
}

// videoArrives reads from c until a video message comes.
func videoArrives(c *client.Conn, d time.Duration) error {
	_, err := readMessages(c, d, func(r *received) bool { return r.typ == chunkcodec.TypeVideo })
	return err
}

// TestPullSharesOneUpstream: 200 RTMP players and an HTTP-FLV player joining
// an edge together share one upstream play at the origin; the upstream
// closes one linger after the last player leaves, and nothing is pulled
// while nobody watches. A stream no origin has is refused at once.
func TestPullSharesOneUpstream(t *testing.T) {
	ctx := testContext(t)
	org := origin(t, ctx, "cam")
	e := edge(t, time.Second, "rtmp://"+org.addr+"/live")

	const players = 200
	conns := make([]*client.Conn, players)
	errs := make([]error, players)
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(ctx, e.url("live/cam"), client.Config{Timeout: 10 * time.Second})
			if err == nil {
				conns[i] = c
				if err = c.Play(ctx, "cam"); err == nil {
					err = videoArrives(c, 10*time.Second)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("player %d: %v", i, err)
		}
	}
	resp, err := http.Get("http://" + e.HTTPAddr() + "/live/cam.flv")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP-FLV player at the edge: %v %v", err, resp)
	}
	if n := org.subscribers("live", "cam"); n != 1 {
		t.Errorf("%d upstream plays at the origin for %d players, want 1", n, players+1)
	}
	resp.Body.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	left := time.Now()
	if !waitFor(10*time.Second, func() bool { return org.subscribers("live", "cam") == 0 }) {
		t.Fatal("upstream still open long after the last player left")
	}
	t.Logf("upstream closed %v after the last player left (linger 1 s)", time.Since(left).Round(100*time.Millisecond))
	total := org.Stats().ConnectionsTotal
	time.Sleep(2500 * time.Millisecond)
	if n := org.Stats().ConnectionsTotal; n != total {
		t.Errorf("%d connections to the origin while nobody watched", n-total)
	}

	c := dial(t, ctx, e.url("live/nobody"), client.Config{Timeout: 10 * time.Second})
	start := time.Now()
	var se *client.StatusError
	if err := c.Play(ctx, "nobody"); !errors.As(err, &se) || se.Code != client.CodePlayNotFound {
		t.Errorf("play of a stream no origin has: %v", err)
	}
	t.Logf("stream unknown everywhere refused in %v", time.Since(start).Round(time.Millisecond))
}

// TestPullFailover: the edge's first origin is down, so it pulls from the
// second; when the network to that origin dies mid-stream (a proxy that
// drops every connection), the edge fails over to a third and its players
// resume.
func TestPullFailover(t *testing.T) {
	ctx := testContext(t)
	dead := freeAddr(t)
	second := origin(t, ctx, "cam")
	link := newCutProxy(t, second.addr)
	third := origin(t, ctx, "cam")
	e := edge(t, 5*time.Second, "rtmp://"+dead+"/live", "rtmp://"+link.addr()+"/live", "rtmp://"+third.addr+"/live")
	p := player(t, ctx, e, "live", "cam", client.Config{Timeout: 20 * time.Second})
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player at the edge: %v", err)
	}
	if second.subscribers("live", "cam") != 1 || third.subscribers("live", "cam") != 0 {
		t.Fatal("the edge does not pull from the second origin (only)")
	}
	killed := time.Now()
	link.cut()
	if !waitFor(20*time.Second, func() bool { return third.subscribers("live", "cam") == 1 }) {
		t.Fatal("the edge does not pull from the third origin")
	}
	// Frames the player had not read yet may still be queued: the next
	// keyframe after the failover is the third origin's.
	_, err := readMessages(p, 20*time.Second, func(r *received) bool {
		return r.typ == chunkcodec.TypeVideo && len(r.payload) > 0 && r.payload[0]>>4 == 1
	})
	if err != nil {
		t.Fatalf("player after the failover: %v", err)
	}
	t.Logf("failover: the third origin serves the edge %v after the second died", time.Since(killed).Round(time.Millisecond))
	r := relaysOf(t, e.Server)
	if len(r) != 1 || r[0]["kind"] != "pull" || r[0]["state"] != "playing" || r[0]["target"] != "rtmp://"+third.addr+"/live" || r[0]["reconnects"].(float64) < 1 {
		t.Errorf("the admin API's relays after the failover: %v", r)
	} else if _, ok := r[0]["rtt_ms"].(float64); !ok {
		t.Errorf("no upstream RTT in %v", r[0])
	} else {
		t.Logf("upstream RTT %v ms", r[0]["rtt_ms"])
	}
}

// cutProxy forwards TCP connections to a target until cut, which closes
// its listener and every connection at once: a network failure, as the
// target sees none of it. Between stall and resume it reads nothing from
// its clients, on the connections it has and those it accepts meanwhile: a
// target that hangs. Its sockets' receive buffers are small (proxyRcvBuf),
// so a stalled proxy pushes back on a client within a few hundred KiB.
type cutProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	n     int           // connections accepted
	gate  chan struct{} // while stalled; resume closes it
}

// proxyRcvBuf is the receive buffer of a cutProxy's sockets.
const proxyRcvBuf = 128 << 10

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, proxyRcvBuf)
		})
		return errors.Join(err, serr)
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.n++
			p.mu.Unlock()
			go func() { p.forward(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

// forward copies what the client src sends to dst, reading nothing while
// the proxy is stalled.
func (p *cutProxy) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall stops the proxy reading from its clients until resume.
func (p *cutProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate == nil {
		p.gate = make(chan struct{})
	}
}

// resume lets a stalled proxy read again.
func (p *cutProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gate != nil {
		close(p.gate)
		p.gate = nil
	}
}

// accepted returns how many connections the proxy forwarded.
func (p *cutProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// drop closes every connection but keeps listening: a network blip.
func (p *cutProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.resume() // stalled forwarders find their connections closed
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestStaticPull: a static pull is kept whether or not anyone watches: the
// edge starts before the origin has the stream, pulls it once it is
// published, with no player at all, and a player then starts at once.
func TestStaticPull(t *testing.T) {
	ctx := testContext(t)
	org := startServer(t, server.Config{}, nil)
	e := startServer(t, server.Config{}, map[string]*server.App{
		"live": {Pull: &server.Pull{Origins: []string{"rtmp://" + org.addr + "/live"}, Static: []string{"rehost"}}},
	})
	pub := publisher(t, ctx, org, "live", "rehost", client.Config{})
	go func() { _, _ = synthPublish(ctx, pub, 25, 25, 1500, 0) }()
	if !waitFor(15*time.Second, func() bool { return e.publishing("live", "rehost") && org.subscribers("live", "rehost") == 1 }) {
		t.Fatal("the static pull did not start without players")
	}
	time.Sleep(2 * time.Second) // longer than a linger would allow
	if org.subscribers("live", "rehost") != 1 {
		t.Fatal("the static pull stopped with nobody watching")
	}
	p := player(t, ctx, e, "live", "rehost", client.Config{})
	if err := videoArrives(p, 5*time.Second); err != nil {
		t.Fatalf("player of the static pull: %v", err)
	}
}

// TestPullRoundRobin: with RoundRobin, two streams of an edge are pulled
// from two different origins.
func TestPullRoundRobin(t *testing.T) {
	ctx := testContext(t)
	o1, o2 := startServer(t, server.Config{}, nil), startServer(t, server.Config{}, nil)
	for _, o := range []*testServer{o1, o2} {
		for _, name := range []string{"s1", "s2"} {
			pub := publisher(t, ctx, o, "live", name, client.Config{})
			go func() { _, _ = synthPublish(ctx, pub, 25, 25, 1500, 0) }()
		}
	}
	e := startServer(t, server.Config{}, map[string]*server.App{
		"live": {Pull: &server.Pull{Origins: []string{"rtmp://" + o1.addr + "/live", "rtmp://" + o2.addr + "/live"}, RoundRobin: true}},
	})
	for _, name := range []string{"s1", "s2"} {
		if err := videoArrives(player(t, ctx, e, "live", name, client.Config{Timeout: 10 * time.Second}), 10*time.Second); err != nil {
			t.Fatalf("%s at the edge: %v", name, err)
		}
	}
	n1 := o1.subscribers("live", "s1") + o1.subscribers("live", "s2")
	n2 := o2.subscribers("live", "s1") + o2.subscribers("live", "s2")
	if n1 != 1 || n2 != 1 {
		t.Errorf("upstreams: %d at the first origin, %d at the second; want one each", n1, n2)
	}
}

// TestPullBudget: an edge pulls at most MaxPulls streams at once; a play of
// one more name is refused at once (a client playing names at random cannot
// open upstream connections without end).
func TestPullBudget(t *testing.T) {
	ctx := testContext(t)
	org := startServer(t, server.Config{}, nil) // has no stream: each pull waits for media
	e := startServer(t, server.Config{MaxPulls: 2}, map[string]*server.App{
		"live": {Pull: &server.Pull{Origins: []string{"rtmp://" + org.addr + "/live"}}},
	})
	for _, name := range []string{"n1", "n2"} {
		c := dial(t, ctx, e.url("live"), client.Config{Timeout: 10 * time.Second})
		go func() { _ = c.Play(ctx, name) }()
	}
	if !waitFor(5*time.Second, func() bool { return org.subscribers("live", "n1") == 1 && org.subscribers("live", "n2") == 1 }) {
		t.Fatal("the two pulls did not start")
	}
	c := dial(t, ctx, e.url("live"), client.Config{Timeout: 10 * time.Second})
	var se *client.StatusError
	if err := c.Play(ctx, "n3"); !errors.As(err, &se) || !strings.Contains(se.Description, "too many streams being pulled") {
		t.Fatalf("a third pull: %v", err)
	}
	if org.subscribers("live", "n3") != 0 {
		t.Error("the refused pull reached the origin")
	}
}
