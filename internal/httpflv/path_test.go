package httpflv

import (
	"net/url"
	"strings"
	"testing"
)

// playPathCases: a play's path as sent and the app and stream it names.
var playPathCases = []struct {
	name, path  string
	app, stream string
	ok          bool
}{
	{"plain", "/live/cam.flv", "live", "cam", true},
	{"no extension (Harmonic)", "/live/cam", "live", "cam", true},
	{"nested name", "/live/a/b.flv", "live", "a/b", true},
	{"at sign", "/live/a%40b.flv", "live", "a@b", true},
	{"at sign unescaped", "/live/a@b.flv", "live", "a@b", true},
	{"space", "/live/a%20b.flv", "live", "a b", true},
	{"plus is a plus", "/live/a+b.flv", "live", "a+b", true},
	{"escaped plus", "/live/a%2Bb.flv", "live", "a+b", true},
	{"equals sign", "/live/x%3D1.flv", "live", "x=1", true},
	{"UTF-8", "/live/caf%C3%A9.flv", "live", "café", true},
	{"lower-case hex", "/live/caf%c3%a9.flv", "live", "café", true},
	{"literal percent", "/live/100%25.flv", "live", "100%", true},
	{"escaped app", "/li%76e/cam.flv", "live", "cam", true},
	{"escaped extension", "/live/cam%2Eflv", "live", "cam", true},
	{"name that is .flv", "/live/x.flv.flv", "live", "x.flv", true},
	{"NUL (refused by ValidName)", "/live/a%00b.flv", "live", "a\x00b", true},
	{"dot-dot (refused by ValidName)", "/live/%2e%2e/x.flv", "live", "../x", true},
	{"escaped slash", "/live/a%2Fb.flv", "", "", false},
	{"escaped slash climbing", "/record/..%2Foutside%2Fsecret.flv", "", "", false},
	{"escaped slash in the app", "/li%2Fve/cam.flv", "", "", false},
	{"bad escape", "/live/a%zzb.flv", "", "", false},
	{"no stream", "/live/", "", "", false},
	{"only the extension", "/live/.flv", "", "", false},
	{"no app", "//cam.flv", "", "", false},
	{"one segment", "/cam.flv", "", "", false},
	{"relative", "live/cam.flv", "", "", false},
}

func TestSplitPlayPath(t *testing.T) {
	for _, c := range playPathCases {
		app, stream, ok := splitPlayPath(c.path)
		if app != c.app || stream != c.stream || ok != c.ok {
			t.Errorf("%s: splitPlayPath(%q) = %q, %q, %v; want %q, %q, %v", c.name, c.path, app, stream, ok, c.app, c.stream, c.ok)
		}
	}
}

// escapePlayPath is the path the player page builds for app and stream:
// each segment escaped with encodeURIComponent's rules (url.PathEscape
// escapes a superset that decodes the same), ".flv" added.
func escapePlayPath(app, stream string) string {
	segs := strings.Split(stream, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + url.PathEscape(app) + "/" + strings.Join(segs, "/") + ".flv"
}

// FuzzSplitPlayPath: no panic; an app never holds a '/'; what splits,
// escaped again segment by segment, splits to the same app and stream.
func FuzzSplitPlayPath(f *testing.F) {
	for _, c := range playPathCases {
		f.Add(c.path)
	}
	f.Fuzz(func(t *testing.T, path string) {
		app, stream, ok := splitPlayPath(path)
		if !ok {
			if app != "" || stream != "" {
				t.Fatalf("%q: not ok with %q, %q", path, app, stream)
			}
			return
		}
		if app == "" || stream == "" || strings.Contains(app, "/") {
			t.Fatalf("%q: app %q, stream %q", path, app, stream)
		}
		again := escapePlayPath(app, stream)
		if a2, s2, ok2 := splitPlayPath(again); !ok2 || a2 != app || s2 != stream {
			t.Fatalf("%q: %q, %q escaped as %q splits to %q, %q, %v", path, app, stream, again, a2, s2, ok2)
		}
	})
}
