package server_test

import (
	"encoding/json"
	"net/http"
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
