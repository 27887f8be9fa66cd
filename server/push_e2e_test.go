package server_test

import (
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
	a := startServer(t, server.Config{}, map[string]*server.App{
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
	// Past what B's player had queued: a keyframe from the new connection.
	if err := videoArrives(p, 10*time.Second); err != nil {
		t.Fatalf("player on B after the drop: %v", err)
	}
	if err := <-published; err != nil {
		t.Fatalf("A's publisher noticed: %v", err)
	}
}
