package wsflv

import "bytes"

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
func ReadRequest(b []byte, r *Request) (int, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > MaxRequestHeadSize {
			return 0, ErrHeaderTooLarge
		}
		return 0, nil
	}
	n := end + 4
	if n > MaxRequestHeadSize {
		return 0, ErrHeaderTooLarge
	}
	head := b[:n]
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return 0, ErrBadRequest
	}
	r.Method, r.Target, r.Proto = line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !bytes.HasPrefix(r.Proto, []byte("HTTP/1.")) || len(r.Target) == 0 {
		return 0, ErrBadRequest
	}
	for _, c := range r.Method {
		if c < 'A' || c > 'Z' {
			return 0, ErrBadRequest
		}
	}
	r.Path, r.RawQuery = r.Target, nil
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		r.Path, r.RawQuery = r.Target[:i], r.Target[i+1:]
	}
	r.nheaders = 0
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(l) == 0 {
			break
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 || l[0] == ' ' || l[0] == '\t' {
			return 0, ErrBadRequest // no obsolete line folding, no empty names
		}
		if r.nheaders == MaxHeaders {
			return 0, ErrTooManyHeaders
		}
		r.headers[r.nheaders] = Header{Name: l[:colon], Value: bytes.TrimSpace(l[colon+1:])}
		r.nheaders++
	}
	r.Head = head
	return n, nil
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
