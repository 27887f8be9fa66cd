package client

import (
	"errors"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		name, raw string
		want      URL
		appPath   string
		tcURL     string
		err       error
	}{
		{name: "app and stream", raw: "rtmp://example.com/live/cam1",
			want:    URL{Host: "example.com:1935", App: "live", Stream: "cam1"},
			appPath: "live", tcURL: "rtmp://example.com:1935/live"},
		{name: "port", raw: "rtmp://127.0.0.1:19350/live/cam1",
			want:    URL{Host: "127.0.0.1:19350", App: "live", Stream: "cam1"},
			appPath: "live", tcURL: "rtmp://127.0.0.1:19350/live"},
		{name: "query stays with the stream", raw: "rtmp://h/live/cam1?token=secret&x=1",
			want:    URL{Host: "h:1935", App: "live", Stream: "cam1?token=secret&x=1", Query: "token=secret&x=1"},
			appPath: "live", tcURL: "rtmp://h:1935/live"},
		{name: "instance", raw: "rtmp://h/app/inst/stream",
			want:    URL{Host: "h:1935", App: "app", Instance: "inst", Stream: "stream"},
			appPath: "app/inst", tcURL: "rtmp://h:1935/app/inst"},
		{name: "stream with slashes", raw: "rtmp://h/app/inst/a/b",
			want:    URL{Host: "h:1935", App: "app", Instance: "inst", Stream: "a/b"},
			appPath: "app/inst", tcURL: "rtmp://h:1935/app/inst"},
		{name: "app only", raw: "rtmp://h/live",
			want:    URL{Host: "h:1935", App: "live"},
			appPath: "live", tcURL: "rtmp://h:1935/live"},
		{name: "app only trailing slash", raw: "rtmp://h/live/",
			want:    URL{Host: "h:1935", App: "live"},
			appPath: "live", tcURL: "rtmp://h:1935/live"},
		{name: "app only with query", raw: "rtmp://h/live?k=v",
			want:    URL{Host: "h:1935", App: "live?k=v", Query: "k=v"},
			appPath: "live?k=v", tcURL: "rtmp://h:1935/live?k=v"},
		{name: "ipv6", raw: "rtmp://[::1]:1936/live/x",
			want:    URL{Host: "[::1]:1936", App: "live", Stream: "x"},
			appPath: "live", tcURL: "rtmp://[::1]:1936/live"},
		{name: "ipv6 default port", raw: "rtmp://[::1]/live/x",
			want:    URL{Host: "[::1]:1935", App: "live", Stream: "x"},
			appPath: "live", tcURL: "rtmp://[::1]:1935/live"},
		{name: "scheme case and userinfo", raw: "RTMP://user:pw@h/live/x",
			want:    URL{Host: "h:1935", App: "live", Stream: "x"},
			appPath: "live", tcURL: "rtmp://h:1935/live"},
		{name: "double slash", raw: "rtmp://h//live/x",
			want:    URL{Host: "h:1935", App: "live", Stream: "x"},
			appPath: "live", tcURL: "rtmp://h:1935/live"},
		{name: "no scheme", raw: "h/live/x", err: ErrBadURL},
		{name: "other scheme", raw: "http://h/live/x", err: ErrUnsupportedScheme},
		{name: "rtmps", raw: "rtmps://h/live/x", err: ErrUnsupportedScheme},
		{name: "no host", raw: "rtmp:///live/x", err: ErrBadURL},
		{name: "no app", raw: "rtmp://h", err: ErrBadURL},
		{name: "no app slash", raw: "rtmp://h/", err: ErrBadURL},
		{name: "empty port", raw: "rtmp://h:/live", err: ErrBadURL},
		{name: "bare ipv6", raw: "rtmp://::1/live", err: ErrBadURL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseURL(tc.raw)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrBadURL) {
					t.Fatalf("ParseURL(%q) error %v, want %v", tc.raw, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tc.raw, err)
			}
			if u != tc.want {
				t.Fatalf("ParseURL(%q) = %+v, want %+v", tc.raw, u, tc.want)
			}
			if got := u.AppPath(); got != tc.appPath {
				t.Errorf("AppPath = %q, want %q", got, tc.appPath)
			}
			if got := u.TCURL(); got != tc.tcURL {
				t.Errorf("TCURL = %q, want %q", got, tc.tcURL)
			}
			// The canonical form parses back to the same URL.
			if u2, err := ParseURL(u.String()); err != nil || u2 != u {
				t.Errorf("round trip of %q: %+v, %v", u.String(), u2, err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"rtmp://h/live/x", "rtmp://[::1]:1/a/b/c?d", "rtmp://h/live?k", "rtmp://u@h:1/a", "x://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("error %v does not wrap ErrBadURL", err)
			}
			return
		}
		if u.App == "" || u.Host == "" {
			t.Fatalf("%q parsed to %+v", s, u)
		}
		if u2, err := ParseURL(u.String()); err != nil || u2 != u {
			t.Fatalf("round trip of %q via %q: %+v, %v", s, u.String(), u2, err)
		}
	})
}
