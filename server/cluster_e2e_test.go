package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// redisServer starts redis-server on 127.0.0.1 (no persistence) and returns
// its address and a function that stops it.
func redisServer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/deps.sh installs it)")
		}
		t.Skip("redis-server not installed")
	}
	addr = freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	if !waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatal("redis-server did not start")
	}
	return addr, stop
}

// node starts a cluster member listening on ip.
func node(t *testing.T, ip, redis string) *server.Server {
	t.Helper()
	srv := server.New(server.Config{
		RTMPAddr: ip + ":0",
		Cluster:  &server.Cluster{Redis: redis, TTL: 2 * time.Second},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv.Handle("live", &server.App{})
	if err := srv.Start(); err != nil {
		t.Fatalf("node %s: %v", ip, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// TestCluster: three nodes on 127.0.0.2-4 share a Redis directory. A stream
// published on A plays on B and C (pulled from A); when A's network dies
// and the publisher reconnects to B, C's players resume from B; a second
// publisher of the name on C is refused while B holds it; with Redis
// stopped, local streams go on and new local publishes are accepted.
func TestCluster(t *testing.T) {
	ctx := testContext(t)
	redis, stopRedis := redisServer(t)
	a := node(t, "127.0.0.2", redis)
	b := node(t, "127.0.0.3", redis)
	c := node(t, "127.0.0.4", redis)
	link := newCutProxy(t, a.RTMPAddr()) // the publisher reaches A through it

	publish := func(addr string) (*client.Conn, chan error) {
		pub, err := client.Dial(ctx, "rtmp://"+addr+"/live", client.Config{Timeout: 5 * time.Second})
		if err == nil {
			err = pub.Publish(ctx, "cam")
		}
		if err != nil {
			t.Fatalf("publish via %s: %v", addr, err)
		}
		t.Cleanup(func() { _ = pub.Close() })
		done := make(chan error, 1)
		go func() { _, err := synthPublish(ctx, pub, 25, 25, 1500, 0); done <- err }()
		return pub, done
	}
	play := func(srv *server.Server) *client.Conn {
		p, err := client.Dial(ctx, "rtmp://"+srv.RTMPAddr()+"/live", client.Config{Timeout: 10 * time.Second})
		if err == nil {
			err = p.Play(ctx, "cam")
		}
		if err == nil {
			err = videoArrives(p, 10*time.Second)
		}
		if err != nil {
			t.Fatalf("play on %s: %v", srv.RTMPAddr(), err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}

	publish(link.addr())
	play(b)
	onC := play(c)
	if n := subscribersOf(a, "cam"); n != 2 {
		t.Errorf("A serves %d upstreams, want 2 (B and C)", n)
	}

	// A's network dies (and A with it: its claims go). A notices its
	// publisher gone before it stops, so, as after a crash, nothing tells
	// the other nodes that the stream ended: their upstreams just break.
	link.cut()
	died := time.Now()
	if !waitFor(5*time.Second, func() bool { return !publishingOn(a, "cam") }) {
		t.Fatal("A did not notice its publisher gone")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = a.Shutdown(sctx)
	cancel()
	publish(b.RTMPAddr())
	if err := videoArrives(onC, 20*time.Second); err != nil {
		t.Fatalf("C's player after A died: %v", err)
	}
	if !waitFor(20*time.Second, func() bool { return subscribersOf(b, "cam") >= 2 }) { // B's player and C's upstream
		t.Fatal("C does not pull from B")
	}
	t.Logf("C's players resumed from B %v after A died", time.Since(died).Round(time.Millisecond))

	second, err := client.Dial(ctx, "rtmp://"+c.RTMPAddr()+"/live", client.Config{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var se *client.StatusError
	if err := second.Publish(ctx, "cam"); !errors.As(err, &se) {
		t.Errorf("a second publisher on C while B holds the stream: %v", err)
	}

	stopRedis()
	if err := videoArrives(onC, 10*time.Second); err != nil {
		t.Fatalf("C's player with Redis stopped: %v", err)
	}
	other, err := client.Dial(ctx, "rtmp://"+c.RTMPAddr()+"/live", client.Config{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Publish(ctx, "local"); err != nil {
		t.Errorf("a local publish with Redis stopped: %v", err)
	}
}

// publishingOn reports whether live/name has a publisher on srv.
func publishingOn(srv *server.Server, name string) bool {
	for _, s := range srv.Streams() {
		if s.App == "live" && s.Name == name {
			return s.Publishing
		}
	}
	return false
}

// subscribersOf returns live/name's subscriber count on srv.
func subscribersOf(srv *server.Server, name string) int {
	for _, s := range srv.Streams() {
		if s.App == "live" && s.Name == name {
			return s.Subscribers
		}
	}
	return 0
}
