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
	Path     []byte // Target up to '?'
	RawQuery []byte // after '?', without it
	Proto    []byte // "HTTP/1.1"
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
	if !bytes.HasPrefix(r.Proto, []byte("HTTP/1.")) || len(r.Proto) != len("HTTP/1.1") {
		return 0, ErrBadRequest
	}
	for _, c := range r.Method {
		if c < 'A' || c > 'Z' {
			return 0, ErrBadRequest
		}
	}
	for _, c := range r.Target {
		if c <= ' ' || c == 0x7f {
			return 0, ErrBadRequest
		}
	}
	r.Path, r.RawQuery = r.Target, nil
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		r.Path, r.RawQuery = r.Target[:i], r.Target[i+1:]
	}
	r.nheaders = 0
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
		if r.nheaders == MaxHeaders {
			return 0, ErrTooManyHeaders
		}
		r.headers[r.nheaders] = Header{Name: name, Value: value}
		r.nheaders++
	}
	r.Head = head
	return n, nil
}

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
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
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
