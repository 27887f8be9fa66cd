package browsertest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/quaverlive/quaver/server"
)

// TestVODPlayback records a few seconds from ffmpeg through the record app, then
// plays the recording (the stream is no longer live) in the player page over
// WebSocket-FLV: the picture has the recorded size and playback advances 3 s
// without player errors.
func TestVODPlayback(t *testing.T) {
	needChromium(t)
	ffmpeg := needFFmpeg(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	srv := startServerWith(t, dir, func(c *server.Config) { c.RecordDir = t.TempDir() })
	rec := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "flv", "rtmp://"+srv.RTMPAddr()+"/record/vod")
	if out, err := rec.CombinedOutput(); err != nil {
		t.Fatalf("recording with ffmpeg: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := srv.Recorder().List()
		if len(list) == 1 && list[0].Complete {
			t.Logf("recorded %s: %.2f s, %d bytes", list[0].File, list[0].Duration, list[0].Size)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording not finished: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}

	bctx := newBrowser(t, ctx)
	tb := newTab(t, bctx)
	tb.open(t, srv, "?app=record&stream=vod&transport=ws&lib=mpegts")
	st := tb.waitFor(t, playTimeout, "recording playing 640x360 for 3 s", func(st pageState) bool {
		if len(st.Errors) > 0 || (st.Error != nil && st.State == "error") {
			t.Fatalf("player error: %v", st)
		}
		return st.Width == 640 && st.Height == 360 && st.Time >= 3
	})
	t.Logf("played %v", st)
	tb.screenshot(t, "vod-ws-mpegts")
}
