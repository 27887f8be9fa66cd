package httpflv

import (
	"net/url"
	"strings"
)

// splitPlayPath splits the path of a play, /<app>/<stream>[.flv] as the
// request sent it (percent-encoded), into the app and the stream name.
//
// The path is split on its raw '/' first, then each segment is decoded
// (RFC 3986 section 2.1; '+' is a plus, not a space): an escaped slash (%2F)
// is part of a segment, never a separator, and a segment holding one is
// refused, so that no escape can add a path element. The stream is the rest
// of the path after the app, its segments joined with '/', less one ".flv"
// suffix. This is how a page reaches names that encodeURIComponent changes
// ("a@b" as a%40b, "café" as caf%C3%A9); a '%' in an RTMP name is a literal
// character, reached over HTTP as %25. The caller still checks the name
// (recorder.ValidName: no NUL, no climbing). ok is false when the path has no
// app and stream, or an escape that does not decode.
func splitPlayPath(path string) (app, name string, ok bool) {
	p, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", "", false
	}
	rawApp, rawName, ok := strings.Cut(p, "/")
	if !ok {
		return "", "", false
	}
	if app, ok = unescapeSegment(rawApp); !ok || app == "" {
		return "", "", false
	}
	if !strings.Contains(rawName, "%") {
		name = rawName
	} else {
		var b strings.Builder
		for i, seg := range strings.Split(rawName, "/") {
			s, ok := unescapeSegment(seg)
			if !ok {
				return "", "", false
			}
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(s)
		}
		name = b.String()
	}
	if name = strings.TrimSuffix(name, ".flv"); name == "" {
		return "", "", false
	}
	return app, name, true
}

// unescapeSegment decodes the percent-escapes of one path segment; ok is
// false when one is malformed or decodes to a '/'.
func unescapeSegment(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	d, err := url.PathUnescape(s)
	if err != nil || strings.Contains(d, "/") {
		return "", false
	}
	return d, true
}
