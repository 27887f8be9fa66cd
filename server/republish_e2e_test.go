package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quaverlive/quaver/server"
)

// TestPlayersContinueAcrossRepublish: an encoder is killed (kill -9) and a
// new one publishes the same name 1 s later at another resolution. Players
// over RTMP, HTTP-FLV and WebSocket-FLV stay attached through the gap,
// decode frames of both publishers without errors, see timestamps that never
// go back, and receive the end of stream once the second publisher has been
// gone for the grace.
func TestPlayersContinueAcrossRepublish(t *testing.T) {
	ffmpeg, _ := requireFFmpeg(t)
	ctx := testContext(t)
	ts := startServer(t, server.Config{HTTPAddr: "127.0.0.1:0", RepublishGrace: 2 * time.Second}, nil)
	httpURL := "http://" + ts.HTTPAddr() + "/live/rp.flv"
	publish := func(size string, secs int) *proc {
		args := ffmpegArgs("-re", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", strconv.Itoa(secs))
		args = append(args, h264Output...)
		return startProc(t, ctx, ffmpeg, append(args, "-f", "flv", ts.url("live/rp"))...)
	}
	first := publish("320x240", 30)
	if !waitFor(10*time.Second, func() bool { return ts.publishing("live", "rp") }) {
		t.Fatalf("first publisher not on air: %s", first.stderr.String())
	}
	// Players decode what they receive and print every frame (showinfo),
	// with each log line's level, so errors cannot hide among the frames.
	decode := func(input string) *proc {
		return startProc(t, ctx, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "level+info",
			"-i", input, "-map", "0:v", "-vf", "showinfo", "-f", "null", "-")
	}
	rtmpPlayer := decode(ts.url("live/rp"))
	httpPlayer := decode(httpURL)
	wsFile := filepath.Join(t.TempDir(), "ws.flv")
	wsDone := make(chan error, 1)
	go func() { wsDone <- rpRecordWS(ctx, "ws://"+ts.HTTPAddr()+"/live/rp.flv", wsFile) }()
	if !waitFor(10*time.Second, func() bool { return ts.subscribers("live", "rp") >= 3 }) {
		t.Fatalf("players did not attach: %d", ts.subscribers("live", "rp"))
	}
	time.Sleep(2 * time.Second) // frames of the first publisher
	first.kill()
	time.Sleep(time.Second)
	if n := ts.subscribers("live", "rp"); n < 3 {
		t.Fatalf("%d players left when the publisher was killed", n)
	}
	second := publish("640x360", 3)
	if !second.wait(20 * time.Second) {
		t.Fatal("second publisher did not finish")
	}
	if second.err != nil {
		t.Fatalf("second publisher: %v\n%s", second.err, second.stderr.String())
	}
	for name, p := range map[string]*proc{"RTMP": rtmpPlayer, "HTTP-FLV": httpPlayer} {
		if !p.wait(15 * time.Second) {
			t.Fatalf("%s player still running past the grace", name)
		}
		rpCheckFrames(t, name, p.stderr.String())
	}
	select {
	case err := <-wsDone:
		if err != nil {
			t.Fatalf("WebSocket-FLV player: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("WebSocket-FLV player not closed past the grace")
	}
	wsDecode := decode(wsFile)
	if !wsDecode.wait(20 * time.Second) {
		t.Fatal("decoding the WebSocket-FLV capture did not finish")
	}
	rpCheckFrames(t, "WebSocket-FLV", wsDecode.stderr.String())
}

var (
	rpFrameLine = regexp.MustCompile(`\[Parsed_showinfo.*\] \[info\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[0-9.]+) .* s:(\d+x\d+)`)
	rpBadLevel  = regexp.MustCompile(`\[(error|fatal|panic)\]`)
	rpEndOfBody = regexp.MustCompile(`(?m)(\[http @ [^]]*\] \[error\] Stream ends prematurely at \d+, should be 18446744073709551615|\[error\] http://\S+: Input/output error)\n?`)
)

// rpCheckFrames checks a player's decode log: no error, frames at both
// resolutions (the first publisher's, then the second's), presentation
// times that never go back.
func rpCheckFrames(t *testing.T, name, log string) {
	t.Helper()
	// ffmpeg's HTTP client calls the end of any body that has neither a
	// length nor chunked framing premature: that is the end of the stream
	// here, not a decoding error.
	log = rpEndOfBody.ReplaceAllString(log, "")
	if at := rpBadLevel.FindStringIndex(log); at != nil {
		from, to := max(0, at[0]-1500), min(len(log), at[1]+1500)
		t.Errorf("%s player logged %s:\n...%s...", name, log[at[0]:at[1]], log[from:to])
	}
	last, sizes := -1.0, []string{}
	for _, m := range rpFrameLine.FindAllStringSubmatch(log, -1) {
		pts, _ := strconv.ParseFloat(m[1], 64)
		if pts < last {
			t.Errorf("%s player: time went back from %.3f to %.3f", name, last, pts)
			return
		}
		last = pts
		if len(sizes) == 0 || sizes[len(sizes)-1] != m[2] {
			sizes = append(sizes, m[2])
		}
	}
	if strings.Join(sizes, " ") != "320x240 640x360" {
		t.Errorf("%s player decoded sizes %v, want 320x240 then 640x360:\n%s", name, sizes, rpTail(log))
	}
}

func rpTail(log string) string {
	if len(log) > 3000 {
		return "..." + log[len(log)-3000:]
	}
	return log
}

// rpRecordWS plays url over WebSocket-FLV and writes the FLV it receives to
// file until the server closes the play.
func rpRecordWS(ctx context.Context, url, file string) error {
	c, err := hxDialWS(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		h, p, err := c.hxReadFrame()
		if err != nil {
			return fmt.Errorf("reading: %w", err)
		}
		switch h.OpCode {
		case ws.OpBinary, ws.OpContinuation:
			if _, err := f.Write(p); err != nil {
				return err
			}
		case ws.OpClose:
			return nil
		}
	}
}
