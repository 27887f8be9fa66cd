package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"
)

// redisAddr starts redis-server on 127.0.0.1 (no persistence) and returns its
// address.
func redisAddr(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/deps.sh installs it)")
		}
		t.Skip("redis-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

// Claims are exclusive unless replaced; a claim whose publish this node no
// longer holds is given up instead of being refreshed for ever.
func TestClaims(t *testing.T) {
	addr := redisAddr(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var held atomic.Bool
	held.Store(true)
	a := New(Config{Redis: addr, Advertise: "rtmp://a", TTL: 300 * time.Millisecond, Logger: log, Holds: func(string, string) bool { return held.Load() }})
	defer a.Close()
	b := New(Config{Redis: addr, Advertise: "rtmp://b", TTL: 300 * time.Millisecond, Logger: log})
	defer b.Close()
	ctx := context.Background()
	if err := a.Claim(ctx, "live", "x", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Claim(ctx, "live", "x", false, nil); !errors.Is(err, ErrTaken) {
		t.Fatalf("a second node's claim: %v", err)
	}
	if o := b.Lookup(ctx, "live", "x"); o != "rtmp://a" {
		t.Fatalf("owner %q", o)
	}
	// Held: refreshed past its TTL.
	time.Sleep(time.Second)
	if o := b.Lookup(ctx, "live", "x"); o != "rtmp://a" {
		t.Fatalf("a held claim was not refreshed: owner %q", o)
	}
	// No longer held (a refused publish, an unpublish without Release): given up.
	held.Store(false)
	gone := false
	for range 100 {
		if b.Lookup(ctx, "live", "x") == "" {
			gone = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !gone {
		t.Fatal("a claim nobody holds is still refreshed")
	}
	lost := make(chan struct{})
	if err := a.Claim(ctx, "live", "y", false, func() { close(lost) }); err != nil {
		t.Fatal(err)
	}
	held.Store(true)
	if err := b.Claim(ctx, "live", "y", true, nil); err != nil {
		t.Fatalf("a replacing claim: %v", err)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the node whose claim was taken over was not told")
	}
}
