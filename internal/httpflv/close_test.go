package httpflv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/wsflv"
)

// logBuffer is a slog destination the tests read back.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTo sends srv's log, from the debug level up, to a buffer it returns.
func logTo(srv *enginetest.Server) *logBuffer {
	lb := &logBuffer{}
	srv.Log = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return lb
}

// How a WebSocket-FLV play ends normally (the browser's tab closes, the page
// stops the player, the peer goes away, the stream or the recording ends) is
// not a warning: only bad input is.
func TestWebSocketNormalEndsAreNotWarnings(t *testing.T) {
	closeFrame := func(payload []byte) string { return maskedFrame(wsflv.OpClose, payload) }
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, c *client, pub func())
		warn bool
	}{
		{"tab closed (1001 going away)", func(t *testing.T, c *client, _ func()) { c.send(closeFrame([]byte{0x03, 0xe9})) }, false},
		{"player stopped (close without a code)", func(t *testing.T, c *client, _ func()) { c.send(closeFrame(nil)) }, false},
		{"close 1000 with a reason", func(t *testing.T, c *client, _ func()) { c.send(closeFrame([]byte("\x03\xe8bye"))) }, false},
		{"peer gone", func(t *testing.T, c *client, _ func()) { c.err = io.EOF; c.s.OnClose(io.EOF) }, false},
		{"stream ended", func(t *testing.T, c *client, end func()) {
			end()
			c.srv.Flush(c.loop)
			got := c.conn.Take()
			if i := bytes.Index(got, []byte{0x88}); i < 0 || !c.conn.Closed {
				t.Fatalf("no close frame at the end of the stream (closed %v): %q", c.conn.Closed, got)
			}
		}, false},
		{"unmasked frame (bad input)", func(t *testing.T, c *client, _ func()) { c.send("\x81\x05hello") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := enginetest.New(t)
			lb := logTo(srv)
			l := fakeloop.New(0)
			pub := rtmpPublish(t, srv, l, "cam")
			c := dial(t, srv)
			c.send(wsUpgrade)
			if out := c.conn.Take(); !bytes.HasPrefix(out, []byte("HTTP/1.1 101")) {
				t.Fatalf("upgrade: %.60q", out)
			}
			tc.end(t, c, func() {
				pub.OnClose(io.EOF)
				srv.Reg.Sweep(time.Now().Add(time.Hour)) // past the republish grace
			})
			if c.err == nil { // the transport calls OnClose once the connection is closed
				if !c.conn.Closed {
					t.Fatal("connection still open")
				}
				c.s.OnClose(nil)
			}
			log := lb.String()
			if !strings.Contains(log, `msg="http connection closed"`) {
				t.Fatalf("no close logged:\n%s", log)
			}
			if got := strings.Contains(log, "level=WARN"); got != tc.warn {
				t.Fatalf("warning logged: %v, want %v:\n%s", got, tc.warn, log)
			}
		})
	}
}

// A WebSocket play of a recording ends with close 1000 "end of recording";
// the browser's answering close ends the connection without a warning.
func TestWebSocketRecordingEndIsNotAWarning(t *testing.T) {
	srv := enginetest.New(t)
	lb := logTo(srv)
	raw := synthRecording(t, srv, "live", "rec", 1000)
	c := dialVOD(t, srv, "127.0.0.2:6000")
	up := strings.Replace(wsUpgrade, "/live/cam.flv", "/live/rec.flv", 1)
	if err := c.s.OnData([]byte(up)); err != nil {
		t.Fatal(err)
	}
	// Run the play until its close frame is out, then answer it as a browser does.
	var out []byte
	for !bytes.Contains(out, []byte("end of recording")) {
		task := <-c.conn.loop.tasks
		_ = task.Run(context.Background())
		out = append(out, c.conn.Take()...)
	}
	if err := c.s.OnData([]byte(maskedFrame(wsflv.OpClose, []byte{0x03, 0xe8}))); err != nil {
		c.err = err
	}
	out = append(out, c.request("")...) // the rest of the play: nothing more is sent
	_, frames, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	if got := wsPayloads(t, frames); !bytes.Equal(got, raw) {
		t.Fatalf("%d bytes of the recording, the file has %d", len(got), len(raw))
	}
	log := lb.String()
	if !strings.Contains(log, `msg="http connection closed"`) || strings.Contains(log, "level=WARN") {
		t.Fatalf("log:\n%s", log)
	}
}
