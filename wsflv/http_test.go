package wsflv_test

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/quaverlive/quaver/wsflv"
)

// checkRequest compares what ReadRequest returned for c.wire with the case.
// It returns a description of the first difference, or "".
func checkRequest(c requestCase, wire []byte, n int, err error, r *wsflv.Request) string {
	switch {
	case c.err != nil:
		if !errors.Is(err, c.err) || n != 0 {
			return "got n=" + itoa(n) + " err=" + errString(err) + ", want error " + c.err.Error()
		}
		return ""
	case c.more:
		if err != nil || n != 0 {
			return "got n=" + itoa(n) + " err=" + errString(err) + ", want 0, nil (need more)"
		}
		return ""
	}
	if err != nil {
		return "unexpected error " + err.Error()
	}
	if want := refHeadEnd(c.wire); n != want {
		return "n = " + itoa(n) + ", want " + itoa(want)
	}
	for _, f := range []struct {
		what      string
		got, want string
	}{
		{"method", string(r.Method), c.method},
		{"target", string(r.Target), c.target},
		{"path", string(r.Path), c.path},
		{"query", string(r.RawQuery), c.query},
		{"proto", string(r.Proto), c.proto},
		{"host", string(r.Host), c.host},
		{"head", string(r.Head), c.wire[:n]},
	} {
		if f.got != f.want {
			return f.what + " = " + quote(f.got) + ", want " + quote(f.want)
		}
	}
	hs := r.Headers()
	if len(hs) != len(c.headers) {
		return "got " + itoa(len(hs)) + " header fields, want " + itoa(len(c.headers))
	}
	for i, h := range hs {
		if string(h.Name) != c.headers[i][0] || string(h.Value) != c.headers[i][1] {
			return "header " + itoa(i) + " = " + quote(string(h.Name)) + ": " + quote(string(h.Value)) +
				", want " + quote(c.headers[i][0]) + ": " + quote(c.headers[i][1])
		}
	}
	if s := requestAliases(r, wire[:n]); s != "" {
		return s
	}
	return ""
}

func TestReadRequest(t *testing.T) {
	for _, c := range requestCases() {
		t.Run(c.name, func(t *testing.T) {
			wire := []byte(c.wire)
			var r wsflv.Request
			n, err := wsflv.ReadRequest(wire, &r)
			if d := checkRequest(c, wire, n, err, &r); d != "" {
				if c.bug != "" {
					t.Skipf("codec bug: %s (%s)", c.bug, d)
				}
				t.Fatal(d)
			}
			if c.bug != "" {
				t.Logf("known bug %q no longer reproduces: drop the bug field", c.bug)
			}
		})
	}
}

// TestReadRequestSplit checks that every prefix of a head shorter than the
// head says "need more" (or reports the same error as the whole), and that
// any prefix holding the whole head gives the same result.
func TestReadRequestSplit(t *testing.T) {
	for _, c := range requestCases() {
		t.Run(c.name, func(t *testing.T) {
			wire := []byte(c.wire)
			var whole wsflv.Request
			n, err := wsflv.ReadRequest(wire, &whole)
			for k := range len(wire) {
				if len(wire) > 1024 && k%97 != 0 && k < len(wire)-8 {
					continue // sample the long heads
				}
				var r wsflv.Request
				pn, perr := wsflv.ReadRequest(wire[:k], &r)
				if s := splitRequestMismatch(n, err, pn, perr, k, &whole, &r); s != "" {
					t.Fatalf("prefix of %d bytes: %s", k, s)
				}
			}
		})
	}
}

// splitRequestMismatch compares the result for a k-byte prefix (pn, perr, pr)
// with the result for the whole input (n, err, whole).
func splitRequestMismatch(n int, err error, pn int, perr error, k int, whole, pr *wsflv.Request) string {
	switch {
	case pn > k:
		return "n = " + itoa(pn) + " beyond the input"
	case err != nil:
		if perr != nil && !errors.Is(perr, err) {
			return "error " + perr.Error() + ", whole input gives " + err.Error()
		}
		if perr == nil && pn != 0 {
			return "n = " + itoa(pn) + ", whole input fails with " + err.Error()
		}
	case n == 0 || k < n:
		if pn != 0 || perr != nil {
			return "got n=" + itoa(pn) + " err=" + errString(perr) + ", want 0, nil"
		}
	default:
		if pn != n || perr != nil {
			return "got n=" + itoa(pn) + " err=" + errString(perr) + ", whole input gives n=" + itoa(n)
		}
		if !sameRequest(whole, pr) {
			return "fields differ from the whole input's"
		}
	}
	return ""
}

func sameRequest(a, b *wsflv.Request) bool {
	if !bytes.Equal(a.Method, b.Method) || !bytes.Equal(a.Target, b.Target) || !bytes.Equal(a.Path, b.Path) ||
		!bytes.Equal(a.RawQuery, b.RawQuery) || !bytes.Equal(a.Proto, b.Proto) || !bytes.Equal(a.Host, b.Host) ||
		!bytes.Equal(a.Head, b.Head) {
		return false
	}
	ha, hb := a.Headers(), b.Headers()
	if len(ha) != len(hb) {
		return false
	}
	for i := range ha {
		if !bytes.Equal(ha[i].Name, hb[i].Name) || !bytes.Equal(ha[i].Value, hb[i].Value) {
			return false
		}
	}
	return true
}

// within reports whether sub lies inside b's memory (empty slices always do).
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return s >= lo && s+uintptr(len(sub)) <= lo+uintptr(len(b))
}

// requestAliases checks that every slice of r aliases head.
func requestAliases(r *wsflv.Request, head []byte) string {
	for _, f := range []struct {
		what string
		b    []byte
	}{{"method", r.Method}, {"target", r.Target}, {"path", r.Path}, {"query", r.RawQuery}, {"proto", r.Proto},
		{"host", r.Host}, {"head", r.Head}} {
		if !within(f.b, head) {
			return f.what + " does not alias the head"
		}
	}
	for i, h := range r.Headers() {
		if !within(h.Name, head) || !within(h.Value, head) {
			return "header " + itoa(i) + " does not alias the head"
		}
	}
	return ""
}

func TestRequestLookups(t *testing.T) {
	var r wsflv.Request
	if _, err := wsflv.ReadRequest([]byte(browserUpgrade), &r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.HeaderValue("sec-websocket-key")); got != rfcKey {
		t.Errorf("HeaderValue(lower case) = %q", got)
	}
	if got := string(r.HeaderValue("SEC-WEBSOCKET-VERSION")); got != "13" {
		t.Errorf("HeaderValue(upper case) = %q", got)
	}
	if r.HeaderValue("X-Missing") != nil {
		t.Error("HeaderValue of a missing field is not nil")
	}
	if !r.IsUpgrade() {
		t.Error("IsUpgrade = false for a browser upgrade")
	}

	// The first of repeated fields wins; Upgrade is matched case-insensitively.
	head := "GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nUpgrade:  WebSocket \r\n\r\n"
	if _, err := wsflv.ReadRequest([]byte(head), &r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.HeaderValue("X-A")); got != "1" {
		t.Errorf("HeaderValue of a repeated field = %q, want the first", got)
	}
	if !r.IsUpgrade() {
		t.Error("IsUpgrade = false for Upgrade: WebSocket")
	}
	if _, err := wsflv.ReadRequest([]byte("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"), &r); err != nil {
		t.Fatal(err)
	}
	if r.IsUpgrade() {
		t.Error("IsUpgrade = true for Upgrade: h2c")
	}

	// A Request is reusable: fields from an earlier, longer head do not leak.
	if _, err := wsflv.ReadRequest([]byte("GET /x HTTP/1.1\r\n\r\n"), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Headers()) != 0 || r.HeaderValue("Upgrade") != nil || r.RawQuery != nil || r.Host != nil {
		t.Errorf("reused Request kept old fields: %d headers, query %q, host %q", len(r.Headers()), r.RawQuery, r.Host)
	}
}

// upgradeResponse runs Upgrade on head with a non-empty out prefix and
// parses the response it appended.
func upgradeResponse(t *testing.T, head string, extra string) (*http.Response, error) {
	t.Helper()
	const prefix = "PREFIX"
	out, err := wsflv.Upgrade([]byte(head), []byte(prefix), []byte(extra))
	if !bytes.HasPrefix(out, []byte(prefix)) {
		t.Fatalf("Upgrade did not append to out: %q", out)
	}
	resp, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(out[len(prefix):])), nil)
	if perr != nil {
		t.Fatalf("response %q does not parse: %v", out[len(prefix):], perr)
	}
	return resp, err
}

func TestUpgradeBrowser(t *testing.T) {
	var r wsflv.Request
	if _, err := wsflv.ReadRequest([]byte(browserUpgrade), &r); err != nil {
		t.Fatal(err)
	}
	resp, err := upgradeResponse(t, string(r.Head), "Access-Control-Allow-Origin: *\r\nX-Quaver: 1\r\n")
	if err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	for name, want := range map[string]string{
		"Upgrade":                     "websocket",
		"Connection":                  "Upgrade",
		"Sec-WebSocket-Accept":        rfcAccept,
		"Access-Control-Allow-Origin": "*",
		"X-Quaver":                    "1",
	} {
		if got := resp.Header.Get(name); !strings.EqualFold(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	// Server frames are never compressed: no extension may be accepted.
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
		t.Errorf("Sec-WebSocket-Extensions accepted: %q", got)
	}
}

func TestUpgradeNoExtra(t *testing.T) {
	resp, err := upgradeResponse(t, browserUpgrade, "")
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, err %v", resp.StatusCode, err)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("unexpected extra header %q", got)
	}
}

func TestUpgradeRejected(t *testing.T) {
	without := func(field string) string {
		var b strings.Builder
		for _, line := range strings.SplitAfter(browserUpgrade, "\r\n") {
			if !strings.HasPrefix(line, field+":") {
				b.WriteString(line)
			}
		}
		return b.String()
	}
	for _, c := range []struct {
		name   string
		head   string
		status int
		header [2]string // a header the rejection must carry
	}{
		{name: "missing key", head: without("Sec-WebSocket-Key"), status: 400},
		{name: "short key", head: strings.Replace(browserUpgrade, rfcKey, "c2hvcnQ=", 1), status: 400},
		{name: "wrong version", head: strings.Replace(browserUpgrade, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1),
			status: 426, header: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "missing version", head: without("Sec-WebSocket-Version"), status: 400},
		{name: "missing Upgrade", head: without("Upgrade"), status: 400},
		{name: "POST", head: strings.Replace(browserUpgrade, "GET ", "POST ", 1), status: 405},
		{name: "HTTP/1.0", head: strings.Replace(browserUpgrade, "HTTP/1.1\r\n", "HTTP/1.0\r\n", 1), status: 505},
		{name: "not a head", head: "garbage", status: 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := upgradeResponse(t, c.head, "X-Extra: 1\r\n")
			if !errors.Is(err, wsflv.ErrNotUpgrade) {
				t.Fatalf("err = %v, want ErrNotUpgrade", err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.header[0] != "" && resp.Header.Get(c.header[0]) != c.header[1] {
				t.Errorf("%s: %q, want %q", c.header[0], resp.Header.Get(c.header[0]), c.header[1])
			}
			if resp.Header.Get("X-Extra") != "" {
				t.Error("extra headers were added to a rejection")
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// quote quotes s for a failure message, eliding the middle of long strings.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:40] + "..." + s[len(s)-20:]
	}
	return strconv.Quote(s)
}

// refHeadEnd is where a head ends: after the first empty line, whose line
// endings may be CRLF or a bare LF (RFC 9112 section 2.2).
func refHeadEnd(w string) int {
	for i := 0; i < len(w); i++ {
		if w[i] != '\n' {
			continue
		}
		if strings.HasPrefix(w[i+1:], "\n") {
			return i + 2
		}
		if strings.HasPrefix(w[i+1:], "\r\n") {
			return i + 3
		}
	}
	return -1
}
