package server_test

// End-to-end tests of stream names that a browser percent-encodes: published
// over RTMP under the literal name, played over HTTP-FLV and WebSocket-FLV at
// the escaped path (the server decodes each path segment).

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// nxEscape is the path of app/name as the player page builds it: each
// segment with encodeURIComponent, whose escapes url.PathEscape also makes
// for these names (it leaves '@', '+' and '=' alone, which the server reads
// the same either way; both forms are played below).
func nxEscape(app, name string, component bool) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
		if component {
			r := strings.NewReplacer("@", "%40", "+", "%2B", "=", "%3D", "&", "%26", "$", "%24", ",", "%2C", ";", "%3B", ":", "%3A")
			segs[i] = r.Replace(segs[i])
		}
	}
	return "/" + url.PathEscape(app) + "/" + strings.Join(segs, "/") + ".flv"
}

// ffmpeg publishes live/a@b; ffprobe reads it over HTTP-FLV at the escaped
// path, a raw HTTP-FLV play and a WebSocket-FLV play get its tags.
func TestEscapedNameFFmpeg(t *testing.T) {
	ffmpeg, ffprobe := hxTools(t)
	ctx := hxContext(t)
	s := hxStart(t, server.Config{}, nil)
	hxPublish(t, ctx, s, ffmpeg, "a@b")
	path := nxEscape("live", "a@b", true)
	if path != "/live/a%40b.flv" {
		t.Fatalf("escaped path %q", path)
	}

	p := hxParseProbe(t, hxRun(t, 30*time.Second, ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", "http://"+s.http+path))
	hxCheckCodecs(t, p)

	r := hxStartFLVReader(t, s.http, path)
	r.hxAdvancing(t, "HTTP-FLV "+path, 1000)

	c, err := hxDialWS(ctx, "ws://"+s.http+path, nil)
	if err != nil {
		t.Fatalf("WebSocket %s: %v", path, err)
	}
	defer c.Close()
	hxCheckStart(t, hxReadWSFLV(t, c, 500))
}

// Names published with the client package (RTMP takes each literally, '%'
// included) play at their escaped paths over HTTP-FLV and WebSocket-FLV.
func TestEscapedNamesRTMPToHTTP(t *testing.T) {
	ctx := hxContext(t)
	s := hxStart(t, server.Config{}, nil)
	for _, name := range []string{"a b", "a+b", "x=1", "café", "100%", "a/b@c"} {
		pub, err := client.Dial(ctx, "rtmp://"+s.rtmp+"/live/x", client.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pub.Close() })
		if err := pub.Publish(ctx, name); err != nil {
			t.Fatalf("publish %q: %v", name, err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = synthPublish(pctx, pub, 100, 25, 200, 30) // a keyframe in the GOP cache
		cancel()
		if err != nil {
			t.Fatalf("publish %q: %v", name, err)
		}
		if !s.hxPublishing("live", name) {
			t.Fatalf("%q is not live; streams %+v", name, s.Streams())
		}
		for _, component := range []bool{true, false} {
			path := nxEscape("live", name, component)
			r := hxStartFLVReader(t, s.http, path)
			if !waitFor(hxIOTimeout, func() bool { return r.tags.Load() >= 2 }) {
				t.Fatalf("HTTP-FLV %s (%q): %d tags, err %v", path, name, r.tags.Load(), r.Err())
			}
			c, err := hxDialWS(ctx, "ws://"+s.http+path, nil)
			if err != nil {
				t.Fatalf("WebSocket %s: %v", path, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
			for i := range 2 { // the FLV header, then a tag
				msg, op, err := wsutil.ReadServerData(c)
				if err != nil || op != ws.OpBinary || (i == 0 && !strings.HasPrefix(string(msg), "FLV")) {
					t.Fatalf("WebSocket %s (%q): message %d: %v %.20q, %v", path, name, i, op, msg, err)
				}
			}
			_ = c.Close()
		}
	}
}
