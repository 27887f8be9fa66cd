package hostile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// Path escapes.
const (
	// secretMarker fills every video frame of the file outside the record
	// directory: seeing it in a response means the server read that file.
	secretMarker = "OUTSIDE-THE-RECORD-DIR!"
	// escapeRead bounds how long a play that started is read for outside bytes.
	escapeRead = 1500 * time.Millisecond
)

// escapeHTTPPaths are requested as given (raw request line, no cleaning).
var escapeHTTPPaths = []string{
	"/live/link.flv",
	"/live/link",
	"/live/linkdir/x.flv",
	"/live/linkdir/x",
	"/live/linkdir%2fx.flv",
	"/live/secret.flv", // the outside file's metadata names live/secret
	"/live/../../outside/secret.flv",
	"/live/%2e%2e/%2e%2e/outside/secret.flv",
	"/live/..%2f..%2foutside%2fsecret.flv",
	"/live/....//....//outside/secret.flv",
	"/record/../live/link.flv",
	"/live/../../../../../../../../etc/passwd.flv",
	"/live/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd.flv",
	"/live/..\\..\\outside\\secret.flv",
}

// escapeRTMPNames are played over RTMP on app live.
var escapeRTMPNames = []string{
	"link.flv", "link", "flv:link.flv", "linkdir/x.flv", "linkdir/x", "secret",
	"../outside/secret.flv", "../../outside/secret", "..%2f..%2foutside%2fsecret.flv",
}

// setupEscapes builds record/live/link.flv -> outside/secret.flv and
// record/live/linkdir -> outside, and returns the record directory.
func setupEscapes(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	rec, outside := filepath.Join(root, "record"), filepath.Join(root, "outside")
	if err := writeRecording(outside, "secret.flv", "live", "secret", 2*time.Second, 2<<10, []byte(secretMarker)); err != nil {
		t.Fatal(err)
	}
	if err := writeRecording(outside, "x.flv", "live", "x", 2*time.Second, 2<<10, []byte(secretMarker)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(rec, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.flv"), filepath.Join(rec, "live", "link.flv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(rec, "live", "linkdir")); err != nil {
		t.Fatal(err)
	}
	return rec
}

// leaks reports whether b holds bytes of the outside files or /etc/passwd.
func leaks(b []byte) bool {
	return bytes.Contains(b, []byte(secretMarker[:12])) || bytes.Contains(b, []byte("root:x:0:0"))
}

// rtmpEscape plays name from ip and reports what it got: refused (a
// *client.StatusError), or the number of media messages and whether any held
// outside bytes, and the getStreamLength answer for name.
func rtmpEscape(d *rtmpd, name string) (refused bool, media int, leaked bool, length float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), honestDialBound)
	defer cancel()
	c, err := client.Dial(ctx, d.rtmpURL(""), attackerConfig(attackerIP(0), 0))
	if err != nil {
		return false, 0, false, 0, err
	}
	defer c.Close()
	if doc, err := c.Call(ctx, "getStreamLength", name); err == nil {
		length = doc.At(3).Number()
	}
	if err := c.Play(ctx, name); err != nil {
		var se *client.StatusError
		if errors.As(err, &se) {
			return true, 0, false, length, nil
		}
		if isPeerClosed(err) || errors.Is(err, client.ErrClosed) {
			return true, 0, false, length, nil
		}
		return false, 0, false, length, err
	}
	_ = c.SetReadDeadline(time.Now().Add(escapeRead))
	for {
		m, err := c.ReadMessage()
		if err != nil {
			break
		}
		switch m.TypeID {
		case chunkcodec.TypeDataAMF0:
			if bytes.Contains(m.Payload, []byte("|RtmpSampleAccess")) {
				continue // sent at every play start, live or recorded: carries nothing
			}
			media++
			leaked = leaked || leaks(m.Payload)
		case chunkcodec.TypeVideo, chunkcodec.TypeAudio, chunkcodec.TypeAggregate:
			media++
			leaked = leaked || leaks(m.Payload)
		}
	}
	return false, media, leaked, length, nil
}

// TestPathEscapes: symlinks inside the record directory that point outside
// it, and names with "..", must never serve outside bytes over HTTP-FLV or
// RTMP (404, play failed, or a live play that waits for a publisher).
func TestPathEscapes(t *testing.T) {
	skipUnlessMeasurable(t, false)
	rec := setupEscapes(t)
	s := newScenario(t, "9 path escapes", rtmpdOptions{recordDir: rec})
	s.beginAttack()
	var refusedHTTP, refusedRTMP int
	var leakedPaths []string
	for _, p := range escapeHTTPPaths {
		code, body, err := httpGet(s.d.httpAddr, attackerIP(0), p, 3*time.Second, 1<<20)
		if err != nil {
			t.Logf("GET %s: %v", p, err)
		}
		switch {
		case leaks(body):
			leakedPaths = append(leakedPaths, "GET "+p)
		case code == 200:
			s.fail("GET %s answered 200 with %d bytes (want 404)", p, len(body))
		default:
			refusedHTTP++
		}
	}
	for _, name := range escapeRTMPNames {
		refused, media, leaked, length, err := rtmpEscape(s.d, name)
		switch {
		case err != nil:
			t.Logf("RTMP play %q: %v", name, err)
		case leaked:
			leakedPaths = append(leakedPaths, "RTMP play "+name)
		case media > 0:
			s.fail("RTMP play %q received %d media messages from a name that is neither live nor a recording inside the record dir", name, media)
		case refused:
			refusedRTMP++
		}
		if length > 0 {
			s.fail("getStreamLength(%q) answered %.1f s: it read a file outside the record dir", name, length)
		}
	}
	s.endAttack()
	s.rep.note("HTTP requests refused %d of %d; RTMP plays refused %d of %d; outside bytes served to: %v",
		refusedHTTP, len(escapeHTTPPaths), refusedRTMP, len(escapeRTMPNames), leakedPaths)
	s.settle(nil)

	s.checkKeepUp()
	if len(leakedPaths) > 0 {
		s.fail("served bytes from outside the record dir to %d requests: %v", len(leakedPaths), leakedPaths)
	}
	s.checkSettled()
}
