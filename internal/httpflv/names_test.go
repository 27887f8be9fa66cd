package httpflv

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/internal/rtmp"
)

// encodeURIComponent escapes s as the player page's JavaScript does (ECMA-262
// section 19.2.6.5: everything but letters, digits and -_.!~*'() as UTF-8
// percent-escapes).
func encodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// pagePath is the path the player page plays app/name on: each segment of
// the name escaped with encodeURIComponent, then ".flv".
func pagePath(app, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = encodeURIComponent(s)
	}
	return "/" + encodeURIComponent(app) + "/" + strings.Join(segs, "/") + ".flv"
}

// escapedNames are stream names the page must escape; RTMP takes each
// literally ('%' too; a '?' starts the publish query, so it is not here).
var escapedNames = []string{"a@b", "a b", "a+b", "x=1", "café", "100%", "a%20b", "a#b", "a/b@c"}

// rtmpPublish publishes name on app through a real RTMP session on l, from
// the handshake on, and sends a keyframe. It returns the publisher's session.
func rtmpPublish(t *testing.T, srv *enginetest.Server, l *fakeloop.Loop, name string) *rtmp.Session {
	t.Helper()
	c := srv.Attach(l, "127.0.0.1:5000")
	s := rtmp.New(srv.Shared, c, 0)
	s.SetHandshakeRand(enginetest.Zeros{})
	for _, b := range [][]byte{
		enginetest.Hello(),
		enginetest.Connect("live"),
		enginetest.Command(0, "createStream", 2),
		enginetest.Command(1, "publish", 3, name, "live"),
		chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 6, TypeID: chunkcodec.TypeVideo, StreamID: 1, Length: 8}, []byte{0x17, 1, 0, 0, 0, 0xde, 0xad, 0xbe}, chunkcodec.DefaultChunkSize),
	} {
		if err := s.OnData(b); err != nil {
			t.Fatalf("publish %q: %v", name, err)
		}
		srv.Flush(l)
	}
	for _, in := range srv.Reg.List() {
		if in.App == "live" && in.Name == name && in.Publishing {
			return s
		}
	}
	t.Fatalf("publish %q: not live; streams %+v", name, srv.Reg.List())
	return nil
}

// A name published over RTMP plays over HTTP-FLV and WebSocket-FLV at the
// path the page builds for it (percent-decoded by the server).
func TestEscapedNames(t *testing.T) {
	for _, name := range escapedNames {
		t.Run(name, func(t *testing.T) {
			srv := enginetest.New(t)
			l := fakeloop.New(0)
			rtmpPublish(t, srv, l, name)
			path := pagePath("live", name)

			c := dial(t, srv)
			c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			out := c.conn.Take()
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv")) {
				t.Fatalf("GET %s: %.80q", path, out)
			}
			if !bytes.Contains(out, []byte("FLV\x01")) || !bytes.Contains(out, []byte{0x17, 1, 0, 0, 0, 0xde, 0xad, 0xbe}) {
				t.Fatalf("GET %s: no FLV header and keyframe", path)
			}
			c.s.OnClose(nil)

			c = dial(t, srv)
			c.send(strings.Replace(wsUpgrade, "/live/cam.flv", path, 1))
			out = c.conn.Take()
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 101")) || !bytes.Contains(out, []byte{0x17, 1, 0, 0, 0, 0xde, 0xad, 0xbe}) {
				t.Fatalf("WebSocket %s: %.80q", path, out)
			}
			c.s.OnClose(nil)
		})
	}
}

// A recording whose name the page escapes plays at the page's path.
func TestEscapedNameRecording(t *testing.T) {
	srv := enginetest.New(t)
	for i, name := range []string{"a b", "café", "a@b"} {
		raw := synthRecording(t, srv, "live", name, 1000)
		c := dialVOD(t, srv, "127.0.0."+strconv.Itoa(i+2)+":6000")
		resp, body := parseResponse(t, c.request("GET "+pagePath("live", name)+" HTTP/1.1\r\n\r\n"), false)
		if resp.StatusCode != 200 || !bytes.Equal(body, raw) {
			t.Fatalf("%q: %d, %d bytes (file %d)", name, resp.StatusCode, len(body), len(raw))
		}
	}
}
