package browsertest

import (
	"context"
	"math"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/server"
)

// vodName is the recorded stream: a name the page must percent-encode.
const vodName = "vod@café"

// vodSecs is the length of the recording.
const vodSecs = 6

// TestVODPlayback records a few seconds from ffmpeg through the record app,
// then plays the recording (the stream is no longer live) in the player page:
// the page lists it under the recordings, not the live streams, plays it as a
// recording (the whole timeline, no latency chasing) from its start, through
// its middle, and seeks in it, with each transport and player library.
func TestVODPlayback(t *testing.T) {
	needChromium(t)
	ffmpeg := needFFmpeg(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServerWith(t, dir, func(c *server.Config) {
		c.RecordDir = t.TempDir()
		c.VODStartRatePerIP, c.VODStartBurstPerIP = 1000, 1000 // every page and seek is a play from 127.0.0.1
	})
	rec := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", strconv.Itoa(vodSecs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "flv", "rtmp://"+srv.RTMPAddr()+"/record/"+vodName)
	if out, err := rec.CombinedOutput(); err != nil {
		t.Fatalf("recording with ffmpeg: %v\n%s", err, out)
	}
	var dur float64
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := srv.Recorder().List()
		if len(list) == 1 && list[0].Complete {
			t.Logf("recorded %s: %.2f s, %d bytes", list[0].File, list[0].Duration, list[0].Size)
			dur = list[0].Duration
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording not finished: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}

	bctx := newBrowser(t, ctx)
	for _, tc := range []struct {
		name, transport, lib string
		click                bool // open the bare page and click the recording in the list
		seek                 bool // then seek with the video element, as its seek bar does
	}{
		{"ws-mpegts", "ws", "mpegts", false, true},
		{"http-mpegts", "http", "mpegts", false, true},
		{"ws-flvjs", "ws", "flv", false, false},
		{"http-flvjs", "http", "flv", false, false},
		{"list-click", "ws", "mpegts", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTab(t, bctx)
			if tc.click {
				tb.open(t, srv, "?transport="+tc.transport+"&lib="+tc.lib)
				st := tb.waitFor(t, errorTimeout, "recording listed", func(st pageState) bool { return strings.Contains(st.Recs, vodName) })
				if strings.Contains(st.List, vodName) || !strings.Contains(st.List, "no streams yet") {
					t.Errorf("live streams list %q shows the ended stream", st.List)
				}
				tb.eval(t, `document.querySelector('#recs tr').click()`)
			} else {
				tb.open(t, srv, "?app=record&stream="+url.QueryEscape(vodName)+"&transport="+tc.transport+"&lib="+tc.lib)
			}
			st := vodPlaysThrough(t, tb, dur, 640, 360)
			if !strings.Contains(st.URL, "/record/vod%40caf%C3%A9") {
				t.Errorf("page played %q, want the escaped name", st.URL)
			}
			t.Logf("played %v", st)
			if tc.seek {
				tb.eval(t, `document.getElementById('v').currentTime = 4.2`)
				st = tb.waitFor(t, playTimeout, "seek to 4.2 s", func(st pageState) bool {
					if st.Error != nil || len(st.Errors) > 0 {
						t.Fatalf("player error: %v", st)
					}
					return st.Time >= 4.3 && st.State != "error"
				})
				t.Logf("after the seek %v", st)
			}
			tb.screenshot(t, "vod-"+tc.name)
		})
	}
}

// vodPlaysThrough waits until the page plays a recording of dur seconds as
// one: mode vod, the recording's whole timeline, first played near 0 (not at
// the end, where a live player's latency chasing would put it), then seen
// playing in the middle and advancing by a second.
func vodPlaysThrough(t *testing.T, tb *tab, dur float64, w, h int) pageState {
	t.Helper()
	mid := -1.0
	return tb.waitFor(t, playTimeout, "recording playing from its start through its middle", func(st pageState) bool {
		if st.Error != nil || len(st.Errors) > 0 {
			t.Fatalf("player error: %v", st)
		}
		if st.StartTime >= 1 {
			t.Fatalf("recording started playing at %.2f s, not at its start: %v", st.StartTime, st)
		}
		if st.State != "playing" || st.Width != w || st.Height != h {
			return false
		}
		if st.Mode != "vod" || math.Abs(st.Duration-dur) > 0.5 {
			t.Fatalf("playing as %q with a duration of %.2f s, want a recording of %.2f s: %v", st.Mode, st.Duration, dur, st)
		}
		if mid < 0 && st.Time >= 1 && st.Time <= dur-2 {
			mid = st.Time
		}
		return mid >= 0 && st.Time >= mid+1
	})
}
