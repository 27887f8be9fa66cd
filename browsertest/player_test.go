package browsertest

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// TestPlayback plays a live H.264 + AAC stream in the player page with each
// player library and transport, and checks the decoded picture size and that
// playback advances without errors.
func TestPlayback(t *testing.T) {
	needChromium(t)
	needFFmpeg(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServer(t, dir)
	publish(t, ctx, srv, "browser")
	bctx := newBrowser(t, ctx)

	for _, tc := range []struct {
		name, transport, lib string
		click                bool // open the bare page and click the stream in the list
	}{
		{"ws-mpegts", "ws", "mpegts", false},
		{"http-mpegts", "http", "mpegts", false},
		{"ws-flvjs", "ws", "flv", false},
		{"list-click", "ws", "mpegts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, bctx)
			if tc.click {
				tb.open(t, srv, "")
				tb.waitFor(t, errorTimeout, "stream listed", func(st pageState) bool { return strings.Contains(st.List, "browser") })
				tb.eval(t, `document.querySelector('#list tr').click()`)
			} else {
				tb.open(t, srv, "?app=live&stream=browser&transport="+tc.transport+"&lib="+tc.lib)
			}
			start := -1.0
			st := tb.waitFor(t, playTimeout, "640x360 video playing for 3 s", func(st pageState) bool {
				if st.Error != nil || len(st.Errors) > 0 {
					t.Fatalf("player error: %v", st)
				}
				if start < 0 && st.State == "playing" {
					start = st.Time
				}
				return start >= 0 && st.Width == 640 && st.Height == 360 && st.Time-start >= 3
			})
			wantScheme := map[string]string{"ws": "ws://", "http": "http://"}[tc.transport]
			if !strings.HasPrefix(st.URL, wantScheme+srv.HTTPAddr()+"/live/browser") {
				t.Errorf("page played %q, want a %s URL on %s", st.URL, wantScheme, srv.HTTPAddr())
			}
			if !strings.Contains(st.List, "browser") {
				t.Errorf("stream list %q does not show live/browser", st.List)
			}
			t.Logf("played %v", st)
			tb.screenshot(t, "playback-"+tc.name)
		})
	}
}

// TestNotLive opens a stream nobody publishes: the page must say so (the
// WebSocket close reason, or the HTTP 404) instead of loading forever.
func TestNotLive(t *testing.T) {
	needChromium(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServer(t, dir)
	bctx := newBrowser(t, ctx)
	for _, tc := range []struct{ name, query, want string }{
		{"ws-mpegts", "transport=ws&lib=mpegts", "4404"},
		{"http-mpegts", "transport=http&lib=mpegts", "404"},
		{"ws-flvjs", "transport=ws&lib=flv", "4404"},
		{"http-flvjs", "transport=http&lib=flv", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, bctx)
			tb.open(t, srv, "?app=live&stream=nobody&"+tc.query)
			st := tb.waitFor(t, errorTimeout, "error shown", func(st pageState) bool { return st.Error != nil })
			if st.State != "error" || !strings.Contains(*st.Error, tc.want) || !strings.Contains(*st.Error, "live/nobody is not live") {
				t.Errorf("got %v, want state error mentioning %s and that live/nobody is not live", st, tc.want)
			}
			if st.ErrText != *st.Error {
				t.Errorf("visible error %q, want %q", st.ErrText, *st.Error)
			}
		})
	}
}

// TestLibraryMissing serves the page without the npm libraries: it must still
// list streams and tell the user to run `make web`, with the direct stream URL.
func TestLibraryMissing(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServer(t, t.TempDir()) // no node_modules: /lib/*.js answer 404
	bctx := newBrowser(t, ctx)
	for _, lib := range []string{"mpegts", "flv"} {
		t.Run(lib, func(t *testing.T) {
			tb := newTab(t, bctx)
			tb.open(t, srv, "?app=live&stream=demo&lib="+lib)
			st := tb.waitFor(t, errorTimeout, "library missing message", func(st pageState) bool {
				return st.Error != nil && strings.Contains(st.List, "no streams yet")
			})
			direct := "http://" + srv.HTTPAddr() + "/live/demo.flv"
			for _, want := range []string{"Player library missing", "make web", direct} {
				if !strings.Contains(st.ErrText, want) {
					t.Errorf("visible error %q does not contain %q", st.ErrText, want)
				}
			}
			if st.State != "error" || st.URLText != direct {
				t.Errorf("got %v (link %q), want state error and a link to %s", st, st.URLText, direct)
			}
			if lib == "mpegts" {
				tb.screenshot(t, "library-missing")
			}
		})
	}
}

// escapedName is a live stream name that encodeURIComponent changes.
const escapedName = "a@café+1=2"

// TestEscapedNamePlayback publishes a name the page must percent-encode
// (the server decodes the path) and plays it from the query string and from
// a click in the live list.
func TestEscapedNamePlayback(t *testing.T) {
	needChromium(t)
	needFFmpeg(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServer(t, dir)
	publish(t, ctx, srv, escapedName)
	bctx := newBrowser(t, ctx)
	const path = "/live/a%40caf%C3%A9%2B1%3D2.flv"
	for _, tc := range []struct {
		name, transport, lib string
		click                bool
	}{
		{"ws-mpegts", "ws", "mpegts", false},
		{"http-flvjs", "http", "flv", false},
		{"list-click", "ws", "mpegts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, bctx)
			if tc.click {
				tb.open(t, srv, "?transport="+tc.transport+"&lib="+tc.lib)
				tb.waitFor(t, errorTimeout, "stream listed", func(st pageState) bool { return strings.Contains(st.List, escapedName) })
				tb.eval(t, `document.querySelector('#list tr').click()`)
			} else {
				tb.open(t, srv, "?app=live&stream="+url.QueryEscape(escapedName)+"&transport="+tc.transport+"&lib="+tc.lib)
			}
			start := -1.0
			st := tb.waitFor(t, playTimeout, "640x360 video playing for 2 s", func(st pageState) bool {
				if st.Error != nil || len(st.Errors) > 0 {
					t.Fatalf("player error: %v", st)
				}
				if start < 0 && st.State == "playing" {
					start = st.Time
				}
				return start >= 0 && st.Width == 640 && st.Height == 360 && st.Time-start >= 2
			})
			wantScheme := map[string]string{"ws": "ws://", "http": "http://"}[tc.transport]
			if st.URL != wantScheme+srv.HTTPAddr()+path || st.Mode != "live" {
				t.Errorf("page played %q as %q, want %s%s%s as live", st.URL, st.Mode, wantScheme, srv.HTTPAddr(), path)
			}
			t.Logf("played %v", st)
		})
	}
}
