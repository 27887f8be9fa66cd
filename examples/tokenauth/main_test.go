package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// The example refuses publishers and players without the token (the
// player's check decided off the event loop) and serves no other app.
func TestTokenAuth(t *testing.T) {
	srv := server.New(server.Config{RTMPAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.Handle("secure", NewApp("s3cret"))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	try := func(app, name string, publish bool) error {
		c, err := client.Dial(ctx, "rtmp://"+srv.RTMPAddr()+"/"+app, client.Config{Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		t.Cleanup(func() { _ = c.Close() })
		if publish {
			return c.Publish(ctx, name)
		}
		return c.Play(ctx, name)
	}
	if try("secure", "cam", true) == nil || try("secure", "cam", false) == nil {
		t.Error("a client without the token got in")
	}
	if err := try("secure", "cam?token=s3cret", true); err != nil {
		t.Errorf("publish with the token: %v", err)
	}
	if err := try("secure", "cam?token=s3cret", false); err != nil {
		t.Errorf("play with the token: %v", err)
	}
	if try("live", "cam", true) == nil {
		t.Error("an app the example does not serve accepted a publish")
	}
}
