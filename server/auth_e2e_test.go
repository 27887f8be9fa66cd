package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// Access rules and HTTP hooks from real clients: the client package for the
// table, ffmpeg for the reason a refused client shows its user.

// tryPublish publishes name (with its query) on app and reports the
// server's answer.
func tryPublish(t *testing.T, ctx context.Context, ts *testServer, app, name string) (*client.Conn, error) {
	t.Helper()
	c := dial(t, ctx, ts.url(app), client.Config{Timeout: 5 * time.Second})
	return c, c.Publish(ctx, name)
}

// tryPlay plays name (with its query) on app and reports the server's answer.
func tryPlay(t *testing.T, ctx context.Context, ts *testServer, app, name string) error {
	t.Helper()
	c := dial(t, ctx, ts.url(app), client.Config{Timeout: 5 * time.Second})
	return c.Play(ctx, name)
}

// refusedWith checks that err is the server's refusal with reason.
func refusedWith(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var se *client.StatusError
	if !errors.As(err, &se) || !strings.Contains(se.Description, reason) {
		t.Errorf("%s: %v, want a refusal saying %q", what, err, reason)
	}
}

func TestAccessRules(t *testing.T) {
	ctx := testContext(t)
	secret := "tok-secret"
	ts := startServer(t, server.Config{}, map[string]*server.App{
		"keyed": {Publish: server.Access{Keys: []string{"s3cret", "other"}}},
		"tok":   {Play: server.Access{TokenSecret: secret}},
		"net":   {Publish: server.Access{Deny: mustPrefixes(t, "127.0.0.0/8")}},
	})
	if _, err := tryPublish(t, ctx, ts, "keyed", "cam"); err == nil {
		t.Error("publish without a key accepted")
	} else {
		refusedWith(t, "publish without a key", err, "a valid key is required")
	}
	_, err := tryPublish(t, ctx, ts, "keyed", "cam?key=wrong")
	refusedWith(t, "publish with a wrong key", err, "a valid key is required")
	if _, err := tryPublish(t, ctx, ts, "keyed", "cam?key=s3cret"); err != nil {
		t.Errorf("publish with the key: %v", err)
	}
	// The key may also ride on the tcUrl (the connect's query).
	c := dial(t, ctx, ts.url("keyed?key=other"), client.Config{Timeout: 5 * time.Second})
	if err := c.Publish(ctx, "cam2"); err != nil {
		t.Errorf("publish with the key on the tcUrl: %v", err)
	}

	if _, err := tryPublish(t, ctx, ts, "tok", "live1"); err != nil {
		t.Fatalf("publish on an app whose plays need tokens: %v", err)
	}
	refusedWith(t, "play without a token", tryPlay(t, ctx, ts, "tok", "live1"), "a valid token is required")
	good := server.SignToken(secret, "tok", "live1", time.Now().Add(time.Minute), "")
	if err := tryPlay(t, ctx, ts, "tok", "live1?token="+good); err != nil {
		t.Errorf("play with a valid token: %v", err)
	}
	expired := server.SignToken(secret, "tok", "live1", time.Now().Add(-time.Minute), "")
	refusedWith(t, "play with an expired token", tryPlay(t, ctx, ts, "tok", "live1?token="+expired), "token expired")
	other := server.SignToken(secret, "tok", "other", time.Now().Add(time.Minute), "")
	refusedWith(t, "play with another stream's token", tryPlay(t, ctx, ts, "tok", "live1?token="+other), "invalid token")

	_, err = tryPublish(t, ctx, ts, "net", "cam")
	refusedWith(t, "publish from a denied network", err, "address not allowed")
}

// The reason reaches the user of a refused ffmpeg.
func TestAccessRefusalShownByFFmpeg(t *testing.T) {
	ffmpeg, _ := requireFFmpeg(t)
	ts := startServer(t, server.Config{}, map[string]*server.App{"keyed": {Publish: server.Access{Keys: []string{"s3cret"}}}})
	media := genFLV(t, ffmpeg, 1)
	refused := startProc(t, testContext(t), ffmpeg, ffmpegArgs("-re", "-i", media, "-c", "copy", "-f", "flv", ts.url("keyed/cam"))...)
	if !refused.wait(20*time.Second) || refused.err == nil {
		t.Fatal("ffmpeg publishing without a key did not fail")
	}
	if !strings.Contains(refused.stderr.String(), "a valid key is required") {
		t.Errorf("ffmpeg's output does not say why:\n%s", refused.stderr.String())
	}
	ok := startProc(t, testContext(t), ffmpeg, ffmpegArgs("-re", "-i", media, "-c", "copy", "-f", "flv", ts.url("keyed/cam?key=s3cret"))...)
	if !ok.wait(20*time.Second) || ok.err != nil {
		t.Fatalf("ffmpeg publishing with the key: %v\n%s", ok.err, ok.stderr.String())
	}
}

// hookTarget is an HTTP server that answers hook calls by stream name and
// records every event.
type hookTarget struct {
	mu     sync.Mutex
	events []server.HookEvent
	srv    *httptest.Server
}

func newHookTarget(t *testing.T) *hookTarget {
	h := &hookTarget{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev server.HookEvent
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &ev); err != nil {
			http.Error(w, "bad body", 400)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
		switch ev.Stream {
		case "bad":
			http.Error(w, "go away\nsecond line", http.StatusForbidden)
		case "redir":
			_, _ = io.WriteString(w, `{"name":"renamed"}`)
		case "slow":
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookTarget) saw(event, stream string) *server.HookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.events {
		if h.events[i].Event == event && h.events[i].Stream == stream {
			return &h.events[i]
		}
	}
	return nil
}

func TestHTTPHooks(t *testing.T) {
	ctx := testContext(t)
	target := newHookTarget(t)
	url := target.srv.URL + "/hook"
	ts := startServer(t, server.Config{AdminAddr: "127.0.0.1:0"}, map[string]*server.App{"hooked": {Hooks: server.HTTPHooks{
		OnConnect: url, OnPublish: url, OnPlay: url, OnPublishDone: url, OnPlayDone: url, Timeout: 500 * time.Millisecond,
	}}})
	pub, err := tryPublish(t, ctx, ts, "hooked", "ok?x=1")
	if err != nil {
		t.Fatalf("publish the hook allows: %v", err)
	}
	if ev := target.saw("on_publish", "ok"); ev == nil || ev.App != "hooked" || ev.Protocol != "rtmp" || ev.Query["x"] != "1" || ev.Peer == "" {
		t.Errorf("on_publish event %+v", ev)
	}
	if target.saw("on_connect", "") == nil {
		t.Error("no on_connect")
	}
	_, err = tryPublish(t, ctx, ts, "hooked", "bad")
	refusedWith(t, "publish the hook refuses", err, "go away")
	_, err = tryPublish(t, ctx, ts, "hooked", "slow")
	refusedWith(t, "publish the hook does not answer in time", err, "authorization unavailable")
	if _, err := tryPublish(t, ctx, ts, "hooked", "redir"); err != nil {
		t.Fatalf("publish the hook redirects: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return ts.publishing("hooked", "renamed") }) {
		t.Error("the redirected publish is not on air as renamed")
	}
	if err := tryPlay(t, ctx, ts, "hooked", "ok"); err != nil {
		t.Errorf("play the hook allows: %v", err)
	}
	_ = pub.Close()
	if !waitFor(5*time.Second, func() bool { return target.saw("on_publish_done", "ok") != nil }) {
		t.Error("no on_publish_done")
	} else if ev := target.saw("on_publish_done", "ok"); ev.DurationSeconds <= 0 || ev.Bytes <= 0 {
		t.Errorf("on_publish_done without duration or bytes: %+v", ev)
	}
	resp, err := http.Get("http://" + ts.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, series := range []string{`quaver_hook_duration_seconds_count{event="on_publish",outcome="allow"}`, `quaver_hook_duration_seconds_count{event="on_publish",outcome="refuse"}`, `quaver_hook_duration_seconds_count{event="on_publish",outcome="error"}`} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics has no %s", series)
		}
	}
}

// An application's handler decides off the event loop: it defers, answers
// from another goroutine, and can rename.
type deferringHandler struct{ server.BaseHandler }

func (deferringHandler) OnPublish(s *server.Session, req *server.StreamRequest) error {
	d := s.Defer(2 * time.Second)
	name := req.Name
	go func() {
		time.Sleep(50 * time.Millisecond) // a database, say
		switch name {
		case "no":
			d.Reject("not today")
		case "alias":
			d.Rewrite("real")
		default:
			d.Accept()
		}
	}()
	return server.ErrPending
}

func TestDeferredHandler(t *testing.T) {
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, map[string]*server.App{"d": {Handler: deferringHandler{}}})
	if _, err := tryPublish(t, ctx, ts, "d", "yes"); err != nil {
		t.Errorf("deferred accept: %v", err)
	}
	_, err := tryPublish(t, ctx, ts, "d", "no")
	refusedWith(t, "deferred refusal", err, "not today")
	if _, err := tryPublish(t, ctx, ts, "d", "alias"); err != nil {
		t.Errorf("deferred rewrite: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return ts.publishing("d", "real") }) {
		t.Error("the rewritten publish is not on air")
	}
}

func mustPrefixes(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}
