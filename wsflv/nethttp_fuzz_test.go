package wsflv_test

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/quaverlive/quaver/wsflv"
)

// serverFields are the header fields the server reads (routing, the
// WebSocket handshake, CORS and VOD ranges).
var serverFields = []string{"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Origin", "Range"}

// FuzzReadRequestNetHTTP is a differential fuzz of ReadRequest against
// net/http's http.ReadRequest on the same bytes. ReadRequest may refuse what
// net/http accepts (it is deliberately stricter), but whenever it accepts a
// complete head, net/http must accept it too and agree on the method, the
// path (after percent-decoding) and raw query, the version, Host, and the
// first value and the number of every header field; Content-Length must give
// the same body length. A disagreement is a request-smuggling or
// path-confusion hole.
func FuzzReadRequestNetHTTP(f *testing.F) {
	for _, c := range requestCases() {
		f.Add([]byte(c.wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r wsflv.Request
		n, err := wsflv.ReadRequest(data, &r)
		if err != nil || n == 0 {
			return
		}
		if d := netHTTPMismatch(data[:n], &r); d != "" {
			t.Fatalf("ReadRequest accepted %q: %s", data[:n], d)
		}
	})
}

// netHTTPMismatch reads head with net/http and returns the first difference
// from r, or "".
func netHTTPMismatch(head []byte, r *wsflv.Request) string {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return "net/http refuses it: " + err.Error()
	}
	path, err := url.PathUnescape(string(r.Path))
	if err != nil {
		return "path " + strconv.Quote(string(r.Path)) + " does not unescape: " + err.Error()
	}
	for _, f := range []struct{ what, got, want string }{
		{"method", string(r.Method), req.Method},
		{"proto", string(r.Proto), req.Proto},
		{"proto", string(r.Proto), "HTTP/" + strconv.Itoa(req.ProtoMajor) + "." + strconv.Itoa(req.ProtoMinor)},
		{"request-target", string(r.Target), req.RequestURI},
		{"path", path, req.URL.Path},
		{"raw query", string(r.RawQuery), req.URL.RawQuery},
		{"host", string(r.Host), req.Host},
	} {
		if f.got != f.want {
			return f.what + " " + strconv.Quote(f.got) + ", net/http " + strconv.Quote(f.want)
		}
	}
	// Every field ReadRequest reports, and those the server reads, must have
	// the same first value and count. net/http moves Host into req.Host and
	// drops Transfer-Encoding (refused here).
	names := append([]string(nil), serverFields...)
	for _, h := range r.Headers() {
		names = append(names, string(h.Name))
	}
	for _, name := range names {
		count := 0
		for _, h := range r.Headers() {
			if bytes.EqualFold(h.Name, []byte(name)) {
				count++
			}
		}
		if http.CanonicalHeaderKey(name) == "Host" {
			if count > 1 {
				return "two Host fields"
			}
			continue
		}
		if got, want := string(r.HeaderValue(name)), req.Header.Get(name); got != want {
			return "field " + name + " = " + strconv.Quote(got) + ", net/http " + strconv.Quote(want)
		}
		if want := len(req.Header.Values(name)); count != want {
			return "field " + name + " appears " + strconv.Itoa(count) + " times, net/http " + strconv.Itoa(want)
		}
	}
	// The body length: what tells where the next request starts.
	want := int64(0)
	if cl := r.HeaderValue("Content-Length"); cl != nil {
		v, err := strconv.ParseInt(string(cl), 10, 64)
		if err != nil {
			return "Content-Length " + strconv.Quote(string(cl)) + " does not parse"
		}
		want = v
	}
	if req.ContentLength != want || req.TransferEncoding != nil {
		return "body length " + strconv.FormatInt(req.ContentLength, 10) + " (transfer-encoding " +
			strconv.Quote(req.Header.Get("Transfer-Encoding")) + "), want " + strconv.FormatInt(want, 10)
	}
	return ""
}

// TestReadRequestNetHTTP runs the differential check on the case table:
// every head ReadRequest accepts, net/http reads the same way.
func TestReadRequestNetHTTP(t *testing.T) {
	for _, c := range requestCases() {
		wire := []byte(c.wire)
		var r wsflv.Request
		n, err := wsflv.ReadRequest(wire, &r)
		if err != nil || n == 0 {
			continue
		}
		if d := netHTTPMismatch(wire[:n], &r); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
	}
}

// TestReadRequestNetHTTPGrammar runs the differential check on heads built
// from HTTP's own pieces (schemes, escapes, authorities, framing fields,
// odd line endings), which byte-level mutation reaches slowly. The
// generator is seeded: the run is the same every time.
func TestReadRequestNetHTTPGrammar(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	some := func(s []string, max int) string {
		var b strings.Builder
		for range rng.IntN(max + 1) {
			b.WriteString(pick(s))
		}
		return b.String()
	}
	methods := []string{"GET", "GET", "HEAD", "OPTIONS", "POST", "CONNECT", "PRI", "get", "G-T", ""}
	targetStarts := []string{"/", "/", "/", "/", "http://h", "HTTPS://h:80", "http://", "*", "", "//", "x:"}
	targetAtoms := []string{"/", "/", "a", "a", "live", "live", ".flv", ".flv", "?", "?", "live", ".flv", "?", "%", "%2", "%41", "%2F", "%zz", "#", ":", "@", "[", "]",
		"http://", "HTTPS://", "h", "80", ".", "\x80", "*", "//", "~", ";", "=", "&", "+", "::1", "%25", "\\", "|", " "}
	protos := []string{"HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.9", "HTTP/2.0", "HTTP/1.x", "http/1.1", "HTTP/1.10", "HTTP/0.9"}
	names := []string{"Host", "host", "HOST", "Content-Length", "content-length", "Transfer-Encoding", "Upgrade", "Connection",
		"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Origin", "Range", "X-A", "x-a", "Trailer", "Pragma",
		"X A", "", "Host ", " Host"}
	valueAtoms := []string{"", " ", "\t", "a", "h", "h", "chunked", "gzip", "4", "4", "0", "+4", "-1", ",", " , ", "websocket",
		"Upgrade", "13", "\x80", "99999999999999999999", "9223372036854775807", "bytes=0-", "no-cache", ":", "\x7f", "\x00", "\r"}
	seps := []string{": ", ":", " : ", ":\t", "\t:"}
	eols := []string{"\r\n", "\r\n", "\r\n", "\r\n", "\n", "\r", "\r\r\n"}
	accepted := 0
	for i := range n {
		var b strings.Builder
		eol := pick(eols)
		if rng.IntN(4) != 0 {
			eol = "\r\n"
		}
		method, proto, sep := "GET", "HTTP/1.1", ": "
		if rng.IntN(3) == 0 {
			method = pick(methods)
		}
		if rng.IntN(3) == 0 {
			proto = pick(protos)
		}
		b.WriteString(method + " " + pick(targetStarts) + some(targetAtoms, 4) + " " + proto + eol)
		for range rng.IntN(5) {
			if rng.IntN(20) == 0 {
				b.WriteString(" folded" + eol)
			}
			if rng.IntN(8) == 0 {
				sep = pick(seps)
			}
			b.WriteString(pick(names) + sep + some(valueAtoms, 2) + eol)
		}
		b.WriteString(eol)
		wire := []byte(b.String())
		var r wsflv.Request
		got, err := wsflv.ReadRequest(wire, &r)
		if err != nil || got == 0 {
			continue
		}
		accepted++
		if d := netHTTPMismatch(wire[:got], &r); d != "" {
			t.Fatalf("head %d: ReadRequest accepted %q: %s", i, wire[:got], d)
		}
	}
	t.Logf("%d of %d heads accepted, all read alike by net/http", accepted, n)
}
