package httpflv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/wsflv"
)

// HTTP sessions from bytes: a real Session on a fake connection and loop.
// The browser and ffmpeg tests (server/http_e2e_test.go, browsertest/) stay
// as the smoke layer.

// client drives one HTTP session.
type client struct {
	srv  *enginetest.Server
	loop *fakeloop.Loop
	conn *fakeloop.Conn
	s    *Session
	err  error
}

func dial(t *testing.T, srv *enginetest.Server) *client {
	l := fakeloop.New(0)
	c := srv.Attach(l, "127.0.0.1:6000")
	return &client{srv: srv, loop: l, conn: c, s: New(srv.Shared, c, 1)}
}

func (c *client) send(b string) {
	if c.err != nil {
		return
	}
	if err := c.s.OnData([]byte(b)); err != nil {
		c.err = err
		c.s.OnClose(err)
	}
	c.srv.Flush(c.loop)
}

// publish puts a live stream live/cam with a keyframe in its GOP cache.
func publish(t *testing.T, srv *enginetest.Server) {
	st, _, err := srv.Reg.AcquirePublish(t, "live", "cam", srv.Apps["live"].StreamOptions(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	epoch := st.Fanout.BeginPublish()
	if _, err := st.Fanout.PublishAs(epoch, chunkcodec.TypeVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Fanout.PublishAs(epoch, chunkcodec.TypeVideo, 40, []byte{0x17, 1, 0, 0, 0, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
}

// maskedFrame is a client frame (clients must mask, RFC 6455 section 5.3).
func maskedFrame(op byte, payload []byte) string {
	key := [4]byte{1, 2, 3, 4}
	b := []byte{0x80 | op, 0x80 | byte(len(payload))}
	b = append(b, key[:]...)
	for i, p := range payload {
		b = append(b, p^key[i%4])
	}
	return string(b)
}

const wsUpgrade = "GET /live/cam.flv HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// The routes, one row each: the request and the start of the response.
func TestRoutes(t *testing.T) {
	cases := []struct {
		name, req, want string
		live            bool // live/cam is being published
		closed          bool // the response ends the connection
	}{
		{"health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK", false, true},
		{"player page", "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Type: text/html", false, true},
		{"no metrics on the public port", "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 404", false, true},
		{"stream list", "GET /api/streams HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Type: application/json", false, true},
		{"missing library", "GET /lib/flv.js HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found", false, true},
		{"preflight", "OPTIONS /live/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 204 No Content", false, true},
		{"method", "POST /live/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 405", false, true},
		{"bad request", "GET\r\n\r\n", "HTTP/1.1 400", false, true},
		{"unknown app", "GET /nope/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 404", false, true},
		{"name that climbs", "GET /live/../x.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 404", false, true},
		{"not live, no recording", "GET /live/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 404", false, true},
		{"HTTP-FLV play", "GET /live/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv", true, false},
		{"HEAD of a live stream", "HEAD /live/cam.flv HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv", true, true},
		{"WebSocket-FLV play", wsUpgrade, "HTTP/1.1 101", true, false},
		{"WebSocket of a name not live", wsUpgrade, "HTTP/1.1 101", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := enginetest.New(t)
			if tc.live {
				publish(t, srv)
			}
			c := dial(t, srv)
			c.send(tc.req)
			got := string(c.conn.Take())
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("response %.80q, want it to start with %q", got, tc.want)
			}
			if c.conn.Closed != tc.closed {
				t.Errorf("closed %v, want %v", c.conn.Closed, tc.closed)
			}
			if c.err == nil { // the transport calls OnClose once the connection is closed
				c.s.OnClose(nil)
			}
			if srv.Open != 0 {
				t.Errorf("%d connection slots left", srv.Open)
			}
		})
	}
}

// A live HTTP-FLV play gets the FLV header and the cached keyframe.
func TestHTTPFLVPlayGetsCachedKeyframe(t *testing.T) {
	srv := enginetest.New(t)
	publish(t, srv)
	c := dial(t, srv)
	c.send("GET /live/cam.flv HTTP/1.1\r\n\r\n")
	out := c.conn.Take()
	_, body, ok := strings.Cut(string(out), "\r\n\r\n")
	if !ok || !strings.HasPrefix(body, "FLV\x01") {
		t.Fatalf("no FLV header after the response head: %.80q", out)
	}
	if !strings.Contains(body, "\x17\x00\x00\x00\x00\x01\x02\x03") {
		t.Errorf("cached keyframe not sent")
	}
	c.s.OnClose(nil)
}

// A request head over the limit is refused with 431 and closes; so is one
// fed byte by byte.
func TestRequestHeadTooLarge(t *testing.T) {
	srv := enginetest.New(t)
	c := dial(t, srv)
	long := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", wsflv.MaxRequestHeadSize) + "\r\n\r\n"
	for i := 0; i < len(long) && c.err == nil; i += 512 {
		c.send(long[i:min(i+512, len(long))])
	}
	if got := string(c.conn.Take()); !strings.HasPrefix(got, "HTTP/1.1 431") {
		t.Fatalf("response %.60q, want 431", got)
	}
	if c.err == nil {
		t.Fatal("connection left open")
	}
}

// WebSocket client frames: a ping is answered with a pong, a close is echoed
// once and ends the session, a malformed frame closes with 1002.
func TestWebSocketClientFrames(t *testing.T) {
	srv := enginetest.New(t)
	publish(t, srv)
	c := dial(t, srv)
	c.send(wsUpgrade)
	c.conn.Take()
	c.send(maskedFrame(wsflv.OpPing, []byte("hi")))
	if got := c.conn.Take(); string(got) != string(wsflv.AppendFrame(nil, wsflv.OpPong, []byte("hi"))) {
		t.Fatalf("ping answered with %q", got)
	}
	c.send(maskedFrame(wsflv.OpClose, []byte{0x03, 0xe8}))
	if got := c.conn.Take(); string(got) != string(wsflv.AppendClose(nil, wsflv.CloseNormal, "")) {
		t.Fatalf("close answered with %q", got)
	}
	if c.err == nil {
		t.Fatal("session still open after the close")
	}

	c = dial(t, srv)
	c.send(wsUpgrade)
	c.conn.Take()
	c.send("\x81\x05hello") // unmasked: a protocol error
	got := c.conn.Take()
	if code, _, err := wsflv.ReadClose(got[2:]); err != nil || code != wsflv.CloseProtocolError {
		t.Fatalf("unmasked frame answered with %q (%v)", got, err)
	}
	if c.err == nil {
		t.Fatal("session still open after a protocol error")
	}
}

// deferringHooks defers every play; the test resolves it.
type deferringHooks struct {
	engine.AcceptAll
	d *engine.Decision
}

func (h *deferringHooks) OnPlay(s *engine.Session, req *engine.StreamRequest) error {
	h.d = s.Defer(time.Second)
	return engine.ErrPending
}

// A play whose hook defers gets no response until the decision: then the
// stream, or the refusal; no decision refuses at the deadline.
func TestDeferredPlay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		resolve func(d *engine.Decision, c *client)
		want    string
	}{
		{"accepted", func(d *engine.Decision, c *client) { d.Resolve(nil, "") }, "HTTP/1.1 200 OK"},
		{"refused", func(d *engine.Decision, c *client) { d.Resolve(errors.New("no"), "") }, "HTTP/1.1 403"},
		{"deadline", func(d *engine.Decision, c *client) { _ = c.s.OnTick(time.Now().Add(2 * time.Second)) }, "HTTP/1.1 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := enginetest.New(t)
			hooks := &deferringHooks{}
			srv.Apps["live"].Hooks = hooks
			publish(t, srv)
			c := dial(t, srv)
			c.send("GET /live/cam.flv HTTP/1.1\r\n\r\n")
			if got := c.conn.Take(); len(got) != 0 || hooks.d == nil {
				t.Fatalf("response before the decision: %q", got)
			}
			tc.resolve(hooks.d, c)
			c.srv.Flush(c.loop)
			if got := string(c.conn.Take()); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("response %.60q, want %q", got, tc.want)
			}
			c.s.OnClose(nil)
		})
	}
}
