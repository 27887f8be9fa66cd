package client

import (
	"fmt"
	"net"
	"strings"
)

// DefaultPort is the RTMP port used when a URL names none.
const DefaultPort = "1935"

// URL is a parsed RTMP URL: rtmp://host[:port]/app[/instance]/stream[?query].
//
// The path is split the way FFmpeg and librtmp split it: the first element is
// the app; with three or more elements the second is the app instance; the
// rest is the stream name. A query string belongs to the stream name (it is
// sent with publish or play, where servers read tokens from it); a URL with
// only an app keeps the query on the app, which is then sent in connect.
type URL struct {
	// Host is host:port, with DefaultPort filled in (IPv6 hosts in brackets).
	Host string
	// App is the first path element.
	App string
	// Instance is the app instance (second path element of a path with three
	// or more elements), or "".
	Instance string
	// Stream is the stream name with its query string ("cam1?token=x"), or
	// "" when the URL names only an app.
	Stream string
	// Query is the query string without '?', or "". It is also part of
	// Stream (or of App when there is no stream).
	Query string
}

// ParseURL parses rawURL. Only the rtmp scheme is accepted (case-insensitive);
// user information before '@' is ignored. Errors wrap ErrBadURL.
func ParseURL(rawURL string) (URL, error) {
	var u URL
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return u, fmt.Errorf("%w: %q has no scheme", ErrBadURL, rawURL)
	}
	if !strings.EqualFold(scheme, "rtmp") {
		return u, fmt.Errorf("%w: %w: %q", ErrBadURL, ErrUnsupportedScheme, scheme)
	}
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	host, err := hostPort(authority)
	if err != nil {
		return u, fmt.Errorf("%w: %q: %w", ErrBadURL, rawURL, err)
	}
	u.Host = host

	path, u.Query, _ = strings.Cut(path, "?")
	app, rest, _ := strings.Cut(strings.TrimLeft(path, "/"), "/")
	if app == "" {
		return u, fmt.Errorf("%w: %q names no app", ErrBadURL, rawURL)
	}
	u.App = app
	// Empty elements between the app and the rest, and a trailing slash, are
	// ignored ("app/inst/" names no stream, so it is read as "app/inst").
	rest = strings.Trim(rest, "/")
	if inst, stream, ok := strings.Cut(rest, "/"); ok {
		u.Instance, u.Stream = inst, stream
	} else {
		u.Stream = rest
	}
	if u.Query != "" {
		if u.Stream != "" {
			u.Stream += "?" + u.Query
		} else if u.Instance == "" {
			u.App += "?" + u.Query
		} else {
			u.Instance += "?" + u.Query
		}
	}
	return u, nil
}

// hostPort returns authority as host:port with the default port added.
func hostPort(authority string) (string, error) {
	if authority == "" {
		return "", fmt.Errorf("empty host")
	}
	if h, p, err := net.SplitHostPort(authority); err == nil {
		if h == "" || p == "" {
			return "", fmt.Errorf("empty host or port in %q", authority)
		}
		return net.JoinHostPort(h, p), nil
	}
	h := authority
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" || strings.ContainsAny(h, "[]") || (strings.Contains(h, ":") && !strings.HasPrefix(authority, "[")) {
		return "", fmt.Errorf("malformed host %q", authority)
	}
	return net.JoinHostPort(h, DefaultPort), nil
}

// AppPath returns the value of connect's "app" field: app[/instance].
func (u URL) AppPath() string {
	if u.Instance != "" {
		return u.App + "/" + u.Instance
	}
	return u.App
}

// TCURL returns the value of connect's "tcUrl" field:
// rtmp://host:port/app[/instance].
func (u URL) TCURL() string { return "rtmp://" + u.Host + "/" + u.AppPath() }

// String returns the URL in canonical form (port always present). An
// instance without a stream keeps its trailing slash, so that String parses
// back to the same URL.
func (u URL) String() string {
	s := u.TCURL()
	if u.Stream != "" || u.Instance != "" {
		s += "/" + u.Stream
	}
	return s
}
