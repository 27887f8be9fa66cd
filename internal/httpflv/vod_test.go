package httpflv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/wsflv"
)

// Plays of recordings from bytes: a real recording in the recorder's
// directory (and index), a real Session, and a loop the play's goroutine can
// hand tasks to from its own goroutine.

// vodTimeout bounds one play (it only stops a stuck test).
const vodTimeout = 10 * time.Second

// chanLoop is an event loop whose Execute is safe from any goroutine: the
// VOD play's goroutine queues tasks, the test goroutine runs them (pump).
type chanLoop struct{ tasks chan netpoll.Task }

func (l *chanLoop) Index() int { return 0 }

func (l *chanLoop) Execute(t netpoll.Task) error {
	l.tasks <- t
	return nil
}

// vodConn is a fake connection on a chanLoop.
type vodConn struct {
	*fakeloop.Conn
	loop *chanLoop
}

func (c *vodConn) Loop() netpoll.EventLoop { return c.loop }

// vodClient is one HTTP connection to a session that may play a recording.
type vodClient struct {
	t    *testing.T
	srv  *enginetest.Server
	conn *vodConn
	s    *Session
	err  error
}

// dialVOD connects from remote (each play its own address, so the VOD
// start-rate budget of one address is not what a test measures).
func dialVOD(t *testing.T, srv *enginetest.Server, remote string) *vodClient {
	l := fakeloop.New(0)
	fc := srv.Attach(l, remote)
	c := &vodConn{Conn: fc, loop: &chanLoop{tasks: make(chan netpoll.Task, 4)}}
	return &vodClient{t: t, srv: srv, conn: c, s: New(srv.Shared, c, 1)}
}

// request sends a request head and runs the session's loop until the
// connection is closed and the play's goroutine has returned. It returns
// everything written.
func (c *vodClient) request(head string) []byte {
	c.t.Helper()
	if err := c.s.OnData([]byte(head)); err != nil {
		c.err = err
	}
	deadline := time.After(vodTimeout)
	for !c.conn.Closed && c.err == nil {
		select {
		case task := <-c.conn.loop.tasks:
			_ = task.Run(context.Background())
		case <-deadline:
			c.t.Fatalf("%q: connection still open after %v; wrote %d bytes", head, vodTimeout, c.conn.Written)
		}
	}
	c.s.OnClose(c.err) // as the transport does once the connection is closed
	done := make(chan struct{})
	go func() { c.srv.VODs.Wait(); close(done) }()
	for {
		select {
		case task := <-c.conn.loop.tasks:
			_ = task.Run(context.Background())
		case <-done:
			return c.conn.Take()
		case <-deadline:
			c.t.Fatalf("%q: the play's goroutine did not return", head)
		}
	}
}

// response parses what request returned: the status line and header, and
// the body (exactly Content-Length bytes must follow the head, unless it is
// a HEAD request).
func parseResponse(t *testing.T, out []byte, head bool) (*http.Response, []byte) {
	t.Helper()
	method := "GET"
	if head {
		method = "HEAD"
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("response %.120q: %v", out, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if _, rest, _ := bytes.Cut(out, []byte("\r\n\r\n")); len(rest) != len(body) {
		t.Fatalf("%d bytes after the head, Content-Length %d", len(rest), len(body))
	}
	return resp, body
}

// synthRecording records durMs of fake AVC + AAC (a keyframe every second)
// as app/name through srv's recorder, waits until it is finished and in the
// index, and returns the file's bytes.
func synthRecording(t *testing.T, srv *enginetest.Server, app, name string, durMs int) []byte {
	t.Helper()
	rec, err := srv.Rec.Start(app, name)
	if err != nil {
		t.Fatal(err)
	}
	b := flvmux.AppendFileHeader(nil, true, true)
	b = flvmux.AppendTag(b, flvmux.TagVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0})
	b = flvmux.AppendTag(b, flvmux.TagAudio, 0, []byte{0xaf, 0, 0x12, 0x10})
	for ts := 0; ts < durMs; ts += 40 {
		v := make([]byte, 300)
		v[0], v[1] = 0x27, 1
		if ts%1000 == 0 {
			v[0] = 0x17
		}
		for i := 5; i < len(v); i++ {
			v[i] = byte(ts + i)
		}
		b = flvmux.AppendTag(b, flvmux.TagVideo, uint32(ts), v)
		b = flvmux.AppendTag(b, flvmux.TagAudio, uint32(ts), []byte{0xaf, 1, 1, 2, 3, 4})
	}
	if _, err := rec.Writev([][]byte{b}); err != nil {
		t.Fatal(err)
	}
	rec.Stop()
	if err := rec.Wait(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Rec.Lookup(app, name); err != nil {
		t.Fatalf("recording %s/%s not in the index: %v", app, name, err)
	}
	return raw
}

// HTTP-FLV plays of a recording answer byte ranges (RFC 9110 section 14):
// one range with 206 and its bytes, an unsatisfiable one with 416, what the
// server ignores with 200 and the whole file; HEAD reports the same head.
func TestVODRanges(t *testing.T) {
	srv := enginetest.New(t)
	raw := synthRecording(t, srv, "live", "rec", 3000)
	size := int64(len(raw))
	sz := strconv.FormatInt(size, 10)
	get := func(extra string) string { return "GET /live/rec.flv HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n" }
	cases := []struct {
		name, req    string
		status       int
		first, last  int64  // the bytes of the file sent (status 200 and 206)
		contentRange string // "" when none
	}{
		{"no range", get(""), 200, 0, size - 1, ""},
		{"from zero", get("Range: bytes=0-\r\n"), 206, 0, size - 1, "bytes 0-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"first-last", get("Range: bytes=100-1099\r\n"), 206, 100, 1099, "bytes 100-1099/" + sz},
		{"open end", get("range: bytes=5000-\r\n"), 206, 5000, size - 1, "bytes 5000-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"suffix", get("Range: bytes=-500\r\n"), 206, size - 500, size - 1, "bytes " + strconv.FormatInt(size-500, 10) + "-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"last past the end", get("Range: bytes=10-99999999\r\n"), 206, 10, size - 1, "bytes 10-" + strconv.FormatInt(size-1, 10) + "/" + sz},
		{"one byte", get("Range: bytes=13-13\r\n"), 206, 13, 13, "bytes 13-13/" + sz},
		{"at the end", get("Range: bytes=" + sz + "-\r\n"), 416, 0, -1, "bytes */" + sz},
		{"suffix of zero", get("Range: bytes=-0\r\n"), 416, 0, -1, "bytes */" + sz},
		{"two ranges", get("Range: bytes=0-10,20-30\r\n"), 200, 0, size - 1, ""},
		{"two Range fields", get("Range: bytes=0-10\r\nRange: bytes=20-30\r\n"), 200, 0, size - 1, ""},
		{"If-Range", get("Range: bytes=0-10\r\nIf-Range: \"x\"\r\n"), 200, 0, size - 1, ""},
		{"other unit", get("Range: items=0-10\r\n"), 200, 0, size - 1, ""},
		{"invalid", get("Range: bytes=10-5\r\n"), 200, 0, size - 1, ""},
	}
	for i, tc := range cases {
		for _, head := range []bool{false, true} {
			name := tc.name
			req := tc.req
			if head {
				name += "/HEAD"
				req = "HEAD" + strings.TrimPrefix(req, "GET")
			}
			t.Run(name, func(t *testing.T) {
				c := dialVOD(t, srv, "127.0.0."+strconv.Itoa(2*i+2+btoi(head))+":6000")
				resp, body := parseResponse(t, c.request(req), head)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				if got := resp.Header.Get("Content-Range"); got != tc.contentRange {
					t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
				}
				if got := resp.Header.Get("Accept-Ranges"); got != "bytes" {
					t.Errorf("Accept-Ranges %q, want bytes", got)
				}
				if want := tc.last - tc.first + 1; resp.ContentLength != want {
					t.Errorf("Content-Length %d, want %d", resp.ContentLength, want)
				}
				if head {
					if len(body) != 0 {
						t.Errorf("HEAD answered with %d bytes of body", len(body))
					}
				} else if want := raw[tc.first : tc.last+1]; !bytes.Equal(body, want) {
					t.Errorf("body of %d bytes is not bytes %d-%d of the file", len(body), tc.first, tc.last)
				}
				if srv.Open != 0 {
					t.Errorf("%d connection slots left", srv.Open)
				}
			})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// With ?start=, a range applies to what the play sends (the synthesized
// headers, then the file from a keyframe), not to the file: every range of
// it is the same bytes as that part of the whole answer.
func TestVODRangeWithStart(t *testing.T) {
	srv := enginetest.New(t)
	raw := synthRecording(t, srv, "live", "rec", 3000)
	c := dialVOD(t, srv, "127.0.0.2:6000")
	resp, whole := parseResponse(t, c.request("GET /live/rec.flv?start=2 HTTP/1.1\r\n\r\n"), false)
	if resp.StatusCode != 200 || !bytes.HasPrefix(whole, []byte("FLV")) || len(whole) >= len(raw) {
		t.Fatalf("?start=2: status %d, %d bytes (file %d)", resp.StatusCode, len(whole), len(raw))
	}
	// The synthesized part ends where the file's part begins: find it.
	tail := raw[len(raw)-len(whole)/2:]
	if !bytes.HasSuffix(whole, tail) {
		t.Fatal("?start=2 does not end with the file's end")
	}
	n := int64(len(whole))
	for i, r := range [][2]int64{{0, 8}, {0, 99}, {5, 300}, {100, n - 1}, {n - 10, n - 1}, {0, n - 1}} {
		c := dialVOD(t, srv, "127.0.0."+strconv.Itoa(i+3)+":6000")
		req := "GET /live/rec.flv?start=2 HTTP/1.1\r\nRange: bytes=" + strconv.FormatInt(r[0], 10) + "-" + strconv.FormatInt(r[1], 10) + "\r\n\r\n"
		resp, body := parseResponse(t, c.request(req), false)
		want := "bytes " + strconv.FormatInt(r[0], 10) + "-" + strconv.FormatInt(r[1], 10) + "/" + strconv.FormatInt(n, 10)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want {
			t.Fatalf("range %v: %d %q, want 206 %q", r, resp.StatusCode, resp.Header.Get("Content-Range"), want)
		}
		if !bytes.Equal(body, whole[r[0]:r[1]+1]) {
			t.Fatalf("range %v: not those bytes of the ?start=2 answer", r)
		}
	}
}

// WebSocket plays have no ranges: a Range field is ignored.
func TestVODWebSocketIgnoresRange(t *testing.T) {
	srv := enginetest.New(t)
	raw := synthRecording(t, srv, "live", "rec", 1000)
	c := dialVOD(t, srv, "127.0.0.2:6000")
	up := strings.Replace(wsUpgrade, "/live/cam.flv", "/live/rec.flv", 1)
	up = strings.TrimSuffix(up, "\r\n") + "Range: bytes=100-\r\n\r\n"
	out := c.request(up)
	if !bytes.HasPrefix(out, []byte("HTTP/1.1 101")) {
		t.Fatalf("response %.80q", out)
	}
	_, frames, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	got := wsPayloads(t, frames)
	if !bytes.Equal(got, raw) {
		t.Fatalf("WebSocket sent %d bytes, the file has %d", len(got), len(raw))
	}
}

// wsPayloads returns the payloads of the binary frames in b (server frames:
// unmasked, RFC 6455 section 5.2), which must end with a close frame.
func wsPayloads(t *testing.T, b []byte) []byte {
	t.Helper()
	var out []byte
	for len(b) >= 2 {
		op, n, hl := b[0]&0x0f, int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hl = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, hl = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if b[1]&0x80 != 0 || len(b) < hl+n {
			t.Fatalf("frame %.20q: masked, or %d bytes of payload missing", b, hl+n-len(b))
		}
		p := b[hl : hl+n]
		b = b[hl+n:]
		switch op {
		case wsflv.OpBinary:
			out = append(out, p...)
		case wsflv.OpClose:
			if len(b) != 0 {
				t.Fatalf("%d bytes after the close frame", len(b))
			}
			return out
		default:
			t.Fatalf("frame opcode %d", op)
		}
	}
	t.Fatal("no close frame")
	return nil
}
