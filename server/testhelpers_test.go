package server_test

// Helpers for the end-to-end tests in e2e_test.go: a server on a loopback
// port with a captured warn-level log, ffmpeg/ffprobe runners, FLV test media
// and paced publishers built on the client package.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/server"
)

// Bounds for the end-to-end tests.
const (
	// e2eTimeout bounds one end-to-end test as a whole: generous, because
	// make test runs the race-enabled server, browser and load-tool tests at
	// once on two cores, where ffmpeg's x264 start-up alone can take seconds.
	e2eTimeout = 60 * time.Second
	// publishWait bounds the wait for an ffmpeg publisher to be on air.
	publishWait = 20 * time.Second
	// ffmpegMediaTimeout bounds an ffmpeg run that writes a test file.
	ffmpegMediaTimeout = 30 * time.Second
	// shutdownTimeout bounds the server shutdown in cleanup.
	shutdownTimeout = 5 * time.Second
)

// logSink collects the server's log lines and copies them to the test log
// while the test runs (a server goroutine may log after the test returned,
// when t.Log would panic).
type logSink struct {
	mu    sync.Mutex
	t     *testing.T
	lines []string
	done  bool
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := strings.TrimRight(string(p), "\n")
	s.lines = append(s.lines, line)
	if !s.done {
		s.t.Log("server: " + line)
	}
	return len(p), nil
}

// contains reports whether a logged line contains every one of parts.
func (s *logSink) contains(parts ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// testServer is a started server and its captured log.
type testServer struct {
	*server.Server
	addr string
	log  *logSink
}

// url returns rtmp://addr/path.
func (ts *testServer) url(path string) string { return "rtmp://" + ts.addr + "/" + path }

// startServer starts a server on 127.0.0.1 with an OS-chosen port, logging at
// warn level into the test log, with apps registered, and shuts it down in
// cleanup.
func startServer(t *testing.T, cfg server.Config, apps map[string]*server.App) *testServer {
	t.Helper()
	sink := &logSink{t: t}
	t.Cleanup(func() { // runs after the shutdown below
		sink.mu.Lock()
		sink.done = true
		sink.mu.Unlock()
	})
	cfg.RTMPAddr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := server.New(cfg)
	handleDefaultApps(srv)
	for name, app := range apps {
		srv.Handle(name, app)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &testServer{Server: srv, addr: srv.RTMPAddr(), log: sink}
}

// testContext returns a context bounded by e2eTimeout, cancelled in cleanup.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	t.Cleanup(cancel)
	return ctx
}

// requireFFmpeg returns the paths of ffmpeg and ffprobe, skipping the test
// when either is missing.
func requireFFmpeg(t *testing.T) (ffmpeg, ffprobe string) {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	ffprobe, err = exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	return ffmpeg, ffprobe
}

// proc is a running external command with captured output.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
	took   time.Duration
}

// startProc starts bin with args under ctx (killed when ctx ends). The test
// fails if the process is still running at cleanup.
func startProc(t *testing.T, ctx context.Context, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.CommandContext(ctx, bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.WaitDelay = time.Second
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.took = time.Since(start)
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit, at most d; it reports whether it did.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill ends the process and waits for it.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// runProc runs bin with args to completion within timeout and returns its
// stdout, failing the test on a non-zero exit.
func runProc(t *testing.T, timeout time.Duration, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p := startProc(t, ctx, bin, args...)
	<-p.done
	if p.err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), p.err, p.stderr.String())
	}
	return p.stdout.String()
}

// lavfiInputs are the ffmpeg arguments of the generated test media: 320x240
// at 25 fps and a 440 Hz tone.
var lavfiInputs = []string{
	"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
	"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
}

// h264Output are the ffmpeg arguments of the H.264 + AAC encoding: a 1 s GOP.
var h264Output = []string{
	"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-keyint_min", "25",
	"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
}

// ffmpegArgs builds an ffmpeg command line with the common prefix.
func ffmpegArgs(args ...string) []string {
	return append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
}

// genFLV encodes seconds of H.264 + AAC test media into an FLV file (faster
// than real time) and returns its path.
func genFLV(t *testing.T, ffmpeg string, seconds int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "media.flv")
	args := ffmpegArgs(lavfiInputs...)
	args = append(args, "-t", fmt.Sprint(seconds))
	args = append(args, h264Output...)
	args = append(args, "-f", "flv", out)
	runProc(t, ffmpegMediaTimeout, ffmpeg, args...)
	return out
}

// flvTag is one tag of an FLV file, its data copied.
type flvTag struct {
	typ  uint8
	ts   uint32
	data []byte
}

// readFLVTags reads every tag of an FLV file.
func readFLVTags(t *testing.T, path string) []flvTag {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r flvmux.Reader
	var tags []flvTag
	for len(b) > 0 {
		n, tag, err := r.Feed(b)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		b = b[n:]
		if tag != nil {
			tags = append(tags, flvTag{typ: tag.Type, ts: tag.Timestamp, data: bytes.Clone(tag.Data)})
		}
	}
	if len(tags) == 0 {
		t.Fatalf("%s has no tags", path)
	}
	return tags
}

// tagsDuration returns the timestamp span of tags plus one video frame.
func tagsDuration(tags []flvTag) uint32 {
	var last uint32
	for _, tg := range tags {
		last = max(last, tg.ts)
	}
	return last + 40
}

// publishTags writes tags to a publishing Conn paced by their timestamps
// (real time), repeating them loops times (0: until ctx ends), with
// timestamps continuing across repetitions. Sequence headers and metadata
// are sent only on the first pass. It returns the number of video messages
// written (sequence headers included) and ctx's error only if the context
// ended before the last loop.
func publishTags(ctx context.Context, c *client.Conn, tags []flvTag, loops int) (videos int, err error) {
	span := tagsDuration(tags)
	start := time.Now()
	for pass := 0; loops == 0 || pass < loops; pass++ {
		base := uint32(pass) * span
		for _, tg := range tags {
			if pass > 0 && (tg.typ == flvmux.TagScript || isSeqHeader(tg.typ, tg.data)) {
				continue
			}
			ts := base + tg.ts
			if d := time.Until(start.Add(time.Duration(ts) * time.Millisecond)); d > 0 {
				select {
				case <-ctx.Done():
					return videos, ctx.Err()
				case <-time.After(d):
				}
			}
			switch tg.typ {
			case flvmux.TagScript:
				err = c.WriteMetaData(tg.data)
			case flvmux.TagVideo:
				videos++
				err = c.WriteMessage(chunkcodec.TypeVideo, ts, tg.data)
			case flvmux.TagAudio:
				err = c.WriteMessage(chunkcodec.TypeAudio, ts, tg.data)
			}
			if err != nil {
				return videos, err
			}
		}
	}
	return videos, nil
}

func isSeqHeader(typ uint8, data []byte) bool {
	if typ == flvmux.TagVideo {
		return flvmux.IsVideoSequenceHeader(data)
	}
	return typ == flvmux.TagAudio && flvmux.IsAudioSequenceHeader(data)
}

// synthVideo returns a fake AVC video payload of size bytes: a keyframe or
// an inter frame. The server never decodes it.
func synthVideo(key bool, size int, seq int) []byte {
	p := make([]byte, size)
	p[0], p[1] = 0x27, 1
	if key {
		p[0] = 0x17
	}
	for i := 5; i < size; i++ {
		p[i] = byte(seq + i)
	}
	return p
}

// synthSeqHeader is a fake AVC sequence header.
var synthSeqHeader = []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0}

// synthStats reports what synthPublish wrote.
type synthStats struct {
	frames   int           // coded video frames (sequence header excluded)
	maxWrite time.Duration // longest single WriteMessage
}

// synthPublish writes a sequence header and then frames of size bytes at
// fps (a keyframe every gop frames) until ctx ends or n frames are written
// (n 0: no limit).
func synthPublish(ctx context.Context, c *client.Conn, fps, gop, size, n int) (synthStats, error) {
	var st synthStats
	if err := c.WriteMessage(chunkcodec.TypeVideo, 0, synthSeqHeader); err != nil {
		return st, err
	}
	frame := time.Second / time.Duration(fps)
	start := time.Now()
	for i := 0; n == 0 || i < n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * frame)); d > 0 {
			select {
			case <-ctx.Done():
				return st, nil
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return st, nil
		}
		p := synthVideo(i%gop == 0, size, i)
		t0 := time.Now()
		err := c.WriteMessage(chunkcodec.TypeVideo, uint32(i*1000/fps), p)
		st.maxWrite = max(st.maxWrite, time.Since(t0))
		if err != nil {
			return st, err
		}
		st.frames++
	}
	return st, nil
}

// dial connects to url, failing the test on error, and closes in cleanup.
func dial(t *testing.T, ctx context.Context, url string, cfg client.Config) *client.Conn {
	t.Helper()
	c, err := client.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// publisher dials and publishes name on app.
func publisher(t *testing.T, ctx context.Context, ts *testServer, app, name string, cfg client.Config) *client.Conn {
	t.Helper()
	c := dial(t, ctx, ts.url(app+"/"+name), cfg)
	if err := c.Publish(ctx, c.StreamName()); err != nil {
		t.Fatalf("publish %s/%s: %v", app, name, err)
	}
	return c
}

// player dials and plays name on app.
func player(t *testing.T, ctx context.Context, ts *testServer, app, name string, cfg client.Config) *client.Conn {
	t.Helper()
	c := dial(t, ctx, ts.url(app+"/"+name), cfg)
	if err := c.Play(ctx, c.StreamName()); err != nil {
		t.Fatalf("play %s/%s: %v", app, name, err)
	}
	return c
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// publishing reports whether app/name has a publisher.
func (ts *testServer) publishing(app, name string) bool {
	for _, s := range ts.Streams() {
		if s.App == app && s.Name == name && s.Publishing {
			return true
		}
	}
	return false
}

// subscribers returns the number of players attached to app/name.
func (ts *testServer) subscribers(app, name string) int {
	for _, s := range ts.Streams() {
		if s.App == app && s.Name == name {
			return s.Subscribers
		}
	}
	return 0
}

// received is one message a test player kept: its type, timestamp, payload
// (copied) and, for commands, the onStatus code.
type received struct {
	typ     uint8
	ts      uint32
	payload []byte
	code    string
	event   int // user control event, -1 for other messages
}

// readMessages reads from c until stop returns true for a message (which is
// included), the read deadline d passes, or the connection ends. It returns
// what it read and the error that ended it (nil when stop matched).
func readMessages(c *client.Conn, d time.Duration, stop func(r *received) bool) ([]received, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	var out []received
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return out, err
		}
		r := received{typ: m.TypeID, ts: m.Timestamp, event: -1}
		switch m.TypeID {
		case chunkcodec.TypeAudio, chunkcodec.TypeVideo, chunkcodec.TypeDataAMF0:
			r.payload = bytes.Clone(m.Payload)
		case chunkcodec.TypeCommandAMF0, chunkcodec.TypeCommandAMF3:
			r.code, _ = client.StatusCode(m)
		case chunkcodec.TypeUserControl:
			if ev, ok := client.UserControlEvent(m); ok {
				r.event = int(ev.Event)
			}
		}
		out = append(out, r)
		if stop != nil && stop(&out[len(out)-1]) {
			return out, nil
		}
	}
}

// isClosed reports whether err means the peer closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// handleDefaultApps registers what rtmpd declares by default: "live", and
// "record", which records every publish and plays its recordings.
func handleDefaultApps(srv *server.Server) {
	srv.Handle("live", &server.App{})
	srv.Handle("record", &server.App{Record: true, VOD: true})
}
