package wsflv

import (
	"bytes"
	"strings"
)

// Limits for request heads.
const (
	// MaxRequestHeadSize bounds the request line plus header fields.
	MaxRequestHeadSize = 8 << 10
	// MaxHeaders bounds the number of header fields.
	MaxHeaders = 64
)

// Header is one header field; Name and Value alias the request head.
type Header struct{ Name, Value []byte }

// Request is a parsed HTTP/1.x request head. All slices alias the bytes given to
// ReadRequest and are valid while those bytes are.
type Request struct {
	Method   []byte
	Target   []byte // request-target as sent
	Path     []byte // Target up to '?'; of an absolute-form target, the URI's path (maybe empty)
	RawQuery []byte // after '?', without it
	Proto    []byte // "HTTP/1.1"
	// Host is the authority the request is for: that of an absolute-form
	// target if there is one (a Host field is then ignored, RFC 9112
	// section 3.2.2), else the Host field's value; nil without either.
	Host     []byte
	Head     []byte // the whole head including the final CRLF CRLF
	headers  [MaxHeaders]Header
	nheaders int
}

// HeaderValue returns the first value of the named field (case-insensitive), or nil.
func (r *Request) HeaderValue(name string) []byte {
	for i := range r.nheaders {
		if equalFold(r.headers[i].Name, name) {
			return r.headers[i].Value
		}
	}
	return nil
}

// Headers returns the header fields in order.
func (r *Request) Headers() []Header { return r.headers[:r.nheaders] }

// IsUpgrade reports whether the request asks for a WebSocket upgrade.
func (r *Request) IsUpgrade() bool {
	return equalFold(bytes.TrimSpace(r.HeaderValue("Upgrade")), "websocket")
}

// ReadRequest parses a request head from b into r. It returns the head's length,
// or 0 with a nil error when b does not yet hold the whole head. Bytes after the
// head (a request body, pipelined requests) are not consumed.
//
// It follows RFC 9112 section 2.2: lines end in CRLF, and a bare LF is accepted as
// a line end too; a bare CR, whitespace between a field name and its colon, a
// field name that is not a token, obsolete line folding, and a request-target
// with spaces or control characters are rejected.
//
// It is a security boundary, so it refuses what could be read two ways
// (request smuggling, path confusion, RFC 9112 section 11) rather than pick
// one reading, and it never accepts a head net/http's http.ReadRequest refuses
// nor reads a field differently (FuzzReadRequestNetHTTP checks this):
//   - the method is upper-case letters; CONNECT (authority-form) is refused;
//   - the version is HTTP/1.DIGIT;
//   - the target (section 3.2) is origin-form ("/path?query"), "*" for
//     OPTIONS, or absolute-form with an http or https scheme and an authority
//     of letters, digits, "-._~" and an optional numeric port (no userinfo,
//     no IP literal, no percent-encoding), whose path then is Path and whose
//     authority is Host; a percent sign in the path must start a %XX escape;
//   - more than one Host field is refused (section 3.2);
//   - Transfer-Encoding is refused: this package reads no bodies, and a body
//     whose end the caller cannot find is what smuggling is made of;
//   - Content-Length must be one field of at most 18 digits (section 6.3).
//
// Path and RawQuery are as sent (still percent-encoded).
func ReadRequest(b []byte, r *Request) (int, error) {
	n := headEnd(b)
	if n < 0 {
		if len(b) > MaxRequestHeadSize {
			return 0, ErrHeaderTooLarge
		}
		return 0, nil
	}
	if n > MaxRequestHeadSize {
		return 0, ErrHeaderTooLarge
	}
	head := b[:n]
	rest := head
	line := nextLine(&rest)
	if bytes.IndexByte(line, '\r') >= 0 {
		return 0, ErrBadRequest
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return 0, ErrBadRequest
	}
	r.Method, r.Target, r.Proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if len(r.Proto) != len("HTTP/1.1") || !bytes.HasPrefix(r.Proto, []byte("HTTP/1.")) || !isDigit(r.Proto[7]) {
		return 0, ErrBadRequest
	}
	for _, c := range r.Method {
		if c < 'A' || c > 'Z' {
			return 0, ErrBadRequest
		}
	}
	if string(r.Method) == "CONNECT" || !r.parseTarget() {
		return 0, ErrBadRequest
	}
	r.nheaders = 0
	var hasHost, hasLength bool
	for len(rest) > 0 {
		l := nextLine(&rest)
		if len(l) == 0 {
			break
		}
		if bytes.IndexByte(l, '\r') >= 0 {
			return 0, ErrBadRequest // bare CR
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return 0, ErrBadRequest // no name (or obsolete folding, which starts with whitespace)
		}
		name := l[:colon]
		for _, c := range name {
			if !isTokenChar(c) {
				return 0, ErrBadRequest
			}
		}
		value := bytes.Trim(l[colon+1:], " \t")
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return 0, ErrBadRequest
			}
		}
		switch {
		case equalFold(name, "Host"):
			if hasHost {
				return 0, ErrBadRequest
			}
			hasHost = true
		case equalFold(name, "Content-Length"):
			if hasLength || !validContentLength(value) {
				return 0, ErrBadRequest
			}
			hasLength = true
		case equalFold(name, "Transfer-Encoding"):
			return 0, ErrBadRequest
		}
		if r.nheaders == MaxHeaders {
			return 0, ErrTooManyHeaders
		}
		r.headers[r.nheaders] = Header{Name: name, Value: value}
		r.nheaders++
	}
	if r.Host == nil {
		r.Host = r.HeaderValue("Host")
	}
	r.Head = head
	return n, nil
}

// parseTarget splits r.Target into Path, RawQuery and, for the absolute-form,
// Host (RFC 9112 section 3.2). It reports false for a target ReadRequest
// refuses.
func (r *Request) parseTarget() bool {
	t := r.Target
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	r.Path, r.RawQuery, r.Host = t, nil, nil
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		r.Path, r.RawQuery = t[:i], t[i+1:]
	}
	switch {
	case len(r.Path) > 0 && r.Path[0] == '/': // origin-form
	case string(t) == "*": // asterisk-form, for OPTIONS only (section 3.2.4)
		return string(r.Method) == "OPTIONS"
	default: // absolute-form (section 3.2.2)
		rest, ok := cutHTTPScheme(r.Path)
		if !ok {
			return false
		}
		auth, path := rest, rest[len(rest):]
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			auth, path = rest[:i], rest[i:]
		}
		if !validAuthority(auth) {
			return false
		}
		r.Host, r.Path = auth, path
	}
	return validEscapes(r.Path)
}

// cutHTTPScheme cuts "http://" or "https://" (in any case) off the front of b.
func cutHTTPScheme(b []byte) ([]byte, bool) {
	for _, s := range [...]string{"http://", "https://"} {
		if len(b) >= len(s) && equalFold(b[:len(s)], s) {
			return b[len(s):], true
		}
	}
	return nil, false
}

// validAuthority reports whether b is host [":" port] with a host of letters,
// digits and "-._~" (a reg-name or IPv4 address without percent-encoding) and
// a port of digits: a subset of RFC 3986 section 3.2 that every reader parses
// the same way.
func validAuthority(b []byte) bool {
	host, port := b, []byte(nil)
	if i := bytes.IndexByte(b, ':'); i >= 0 {
		host, port = b[:i], b[i+1:]
	}
	if len(host) == 0 {
		return false
	}
	for _, c := range host {
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' && c != '~' {
			return false
		}
	}
	for _, c := range port {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validEscapes reports whether every '%' in b starts a %XX escape (RFC 3986
// section 2.1).
func validEscapes(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] == '%' {
			if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

// validContentLength reports whether v is a Content-Length value this package
// takes: 1 to 18 digits (RFC 9110 section 8.6; 18 digits always fit an int64).
func validContentLength(v []byte) bool {
	if len(v) == 0 || len(v) > 18 {
		return false
	}
	for _, c := range v {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// headEnd returns the length of the head (through the empty line that ends it),
// or -1 when it is not complete yet.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
	return -1
}

// nextLine cuts the next line off *rest, without its LF or CRLF ending.
func nextLine(rest *[]byte) []byte {
	b := *rest
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		*rest = nil
		return b
	}
	*rest = b[i+1:]
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line
}

// isTokenChar reports whether c may appear in a field name (RFC 9110 section 5.6.2).
func isTokenChar(c byte) bool {
	if isAlnum(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
