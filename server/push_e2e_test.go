package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/relay"
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

// TestPushQueueBudget: a push target that stops reading, while the
// publisher goes on at 2.5 MB/s. A's fanout watermarks are set above
// relay.MaxPushQueue, so that only the push's own budget stands between
// the target and A's memory. The bytes waiting for the target (as
// /api/v1/relays reports them) grow to the budget and never past it; the
// push is then dropped, as a viewer over its hard cap is: A's log says so,
// and the push ends (gone from /api/v1/relays) without waiting for the
// target. Neither the publisher nor a player on A notices; once the target
// reads again, the next publish is pushed to it.
func TestPushQueueBudget(t *testing.T) {
	ctx := testContext(t)
	b := startServer(t, server.Config{}, nil)
	link := newCutProxy(t, b.addr)
	a := startServer(t, server.Config{
		AdminAddr: "127.0.0.1:0",
		Fanout:    fanout.Config{HighWater: 2 * relay.MaxPushQueue, HardCap: 4 * relay.MaxPushQueue},
	}, map[string]*server.App{"live": {Push: server.Push{"rtmp://" + link.addr() + "/live/{stream}"}}})
	pub := publisher(t, ctx, a, "live", "cam", client.Config{})
	local := player(t, ctx, a, "live", "cam", client.Config{})
	var got atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			m, err := local.ReadMessage()
			if err != nil {
				return
			}
			if m.TypeID == chunkcodec.TypeVideo && !flvmux.IsVideoSequenceHeader(m.Payload) {
				got.Add(1)
			}
		}
	}()
	const fps, frameSize = 25, 100 << 10
	pctx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	type result struct {
		st  synthStats
		err error
	}
	published := make(chan result, 1)
	go func() {
		st, err := synthPublish(pctx, pub, fps, fps, frameSize, 0)
		published <- result{st, err}
	}()
	if !waitFor(10*time.Second, func() bool { return publishingOn(b.Server, "cam") }) {
		t.Fatal("the push did not reach the target")
	}

	link.stall()
	stalled := time.Now()
	peak := 0
	if !waitFor(20*time.Second, func() bool {
		r := relaysOf(t, a.Server)
		for _, x := range r {
			peak = max(peak, int(x["queued_bytes"].(float64)))
		}
		return len(r) == 0
	}) {
		t.Fatalf("the push to a target that stopped reading did not end: %v", relaysOf(t, a.Server))
	}
	t.Logf("push ended %v after the target stopped reading; at most %d bytes waited for it (budget %d)",
		time.Since(stalled).Round(time.Millisecond), peak, relay.MaxPushQueue)
	if peak > relay.MaxPushQueue {
		t.Errorf("%d bytes waited for the target, over MaxPushQueue (%d)", peak, relay.MaxPushQueue)
	}
	if peak < relay.MaxPushQueue/2 {
		t.Errorf("at most %d bytes waited for the target: the attack did not reach the budget", peak)
	}
	if !a.log.contains("push target too slow") {
		t.Error("A does not say why the push was dropped")
	}

	// The publisher and A's player went on throughout.
	stopPublishing()
	res := <-published
	if res.err != nil {
		t.Fatalf("publisher: %v", res.err)
	}
	waitFor(5*time.Second, func() bool { return got.Load() >= int64(res.st.frames) })
	_ = local.Close()
	<-readDone
	t.Logf("published %d frames, longest write %v; A's player got %d", res.st.frames, res.st.maxWrite.Round(time.Millisecond), got.Load())
	// Counts, not durations: a publisher or a player held back by the
	// target would show as frames missing at the player.
	if n := int(got.Load()); n < res.st.frames*9/10 {
		t.Errorf("A's player got %d of %d video frames", n, res.st.frames)
	}

	// The target reads again: the next publish is pushed to it.
	link.resume()
	again := publisher(t, ctx, a, "live", "cam2", client.Config{})
	go func() { _, _ = synthPublish(ctx, again, 25, 25, 1500, 25*10) }()
	if !waitFor(10*time.Second, func() bool { return publishingOn(b.Server, "cam2") }) {
		t.Fatal("a new publish was not pushed once the target read again")
	}
}
