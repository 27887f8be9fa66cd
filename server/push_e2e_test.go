package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// TestPushSurvivesTargetLoss: a publish on A is forwarded to B (the stream
// name templated); when the network to B drops every connection, A's push
// reconnects and B's player, waiting out B's republish grace, keeps
// receiving video; A's publisher never notices.
func TestPushSurvivesTargetLoss(t *testing.T) {
	ctx := testContext(t)
	b := startServer(t, server.Config{}, nil)
	link := newCutProxy(t, b.addr)
	a := startServer(t, server.Config{AdminAddr: "127.0.0.1:0"}, map[string]*server.App{
		"live": {Push: server.Push{"rtmp://" + link.addr() + "/live/copy-{stream}"}},
	})
	pub := publisher(t, ctx, a, "live", "cam", client.Config{})
	published := make(chan error, 1)
	go func() { _, err := synthPublish(ctx, pub, 25, 25, 1500, 25*12); published <- err }()
	if !waitFor(10*time.Second, func() bool { return b.publishing("live", "copy-cam") }) {
		t.Fatal("the push did not reach B")
	}
	p := player(t, ctx, b, "live", "copy-cam", client.Config{})
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player on B: %v", err)
	}
	dropped := time.Now()
	link.drop()
	if !waitFor(10*time.Second, func() bool { return link.accepted() >= 2 && b.publishing("live", "copy-cam") }) {
		t.Fatal("the push did not reconnect")
	}
	t.Logf("push back on air at B %v after the drop", time.Since(dropped).Round(time.Millisecond))
	if !waitFor(5*time.Second, func() bool {
		r := relaysOf(t, a.Server)
		return len(r) == 1 && r[0]["kind"] == "push" && r[0]["state"] == "pushing" && r[0]["reconnects"].(float64) >= 1 && r[0]["bytes"].(float64) > 0
	}) {
		t.Errorf("the admin API does not show the push back on air after a reconnect: %v", relaysOf(t, a.Server))
	}
	resp, err := http.Get("http://" + a.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`quaver_relays{kind="push",state="pushing"} 1`, `quaver_relay_reconnects{kind="push"} `, `quaver_relay_bytes{kind="push"} `} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Past what B's player had queued: a keyframe from the new connection.
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player on B after the drop: %v", err)
	}
	if err := <-published; err != nil {
		t.Fatalf("A's publisher noticed: %v", err)
	}
}

// relaysOf reads GET /api/v1/relays from srv's admin listener.
func relaysOf(t *testing.T, srv *server.Server) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + srv.AdminAddr() + "/api/v1/relays")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPushTargetRestarted: the push target is shut down and a new server
// starts on its address: the push reconnects to it and its players get
// video, and the publisher never notices.
func TestPushTargetRestarted(t *testing.T) {
	ctx := testContext(t)
	b := server.New(server.Config{RTMPAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.Handle("live", &server.App{})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.RTMPAddr()
	a := startServer(t, server.Config{}, map[string]*server.App{"live": {Push: server.Push{"rtmp://" + addr + "/live/{stream}"}}})
	pub := publisher(t, ctx, a, "live", "cam", client.Config{})
	published := make(chan error, 1)
	go func() { _, err := synthPublish(ctx, pub, 25, 25, 1500, 25*12); published <- err }()
	if !waitFor(10*time.Second, func() bool { return publishingOn(b, "cam") }) {
		t.Fatal("the push did not reach the target")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_ = b.Shutdown(sctx)
	cancel()
	killed := time.Now()
	b2 := server.New(server.Config{RTMPAddr: addr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b2.Handle("live", &server.App{})
	if err := b2.Start(); err != nil {
		t.Fatalf("restart the target on %s: %v", addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b2.Shutdown(ctx)
	})
	if !waitFor(15*time.Second, func() bool { return publishingOn(b2, "cam") }) {
		t.Fatal("the push did not reach the restarted target")
	}
	t.Logf("forwarding resumed %v after the target restarted", time.Since(killed).Round(time.Millisecond))
	p, err := client.Dial(ctx, "rtmp://"+addr+"/live", client.Config{Timeout: 5 * time.Second})
	if err == nil {
		err = p.Play(ctx, "cam")
	}
	if err == nil {
		err = videoArrives(p, 10*time.Second)
	}
	if err != nil {
		t.Fatalf("player on the restarted target: %v", err)
	}
	p.Close()
	if err := <-published; err != nil {
		t.Fatalf("the publisher noticed: %v", err)
	}
}
