package server_test

// End-to-end tests of recording and VOD playback with real peers: ffmpeg
// publishes to the record app, ffprobe and ffmpeg read the files and play them
// back over RTMP and HTTP-FLV, gobwas/ws plays them over WebSocket-FLV, and the
// real rtmpd binary is killed with SIGKILL in the middle of a recording.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/server"
)

// Bounds of the VOD end-to-end tests.
const (
	vxTestTimeout  = 90 * time.Second // one whole test
	vxStepTimeout  = 30 * time.Second // one ffmpeg/ffprobe run or playback
	vxRecordSecs   = 10               // length of the recording
	vxChunkSize    = 4096             // the test client's outbound chunk size
	vxClientStream = 8                // chunk stream of the test client's NetStream commands
)

// vxFFmpeg returns the paths of ffmpeg and ffprobe, skipping without them.
func vxFFmpeg(t *testing.T) (string, string) {
	t.Helper()
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed")
	}
	return ffmpeg, ffprobe
}

// vxLog collects server logs for the test log; lines after the test ends are dropped.
type vxLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
	buf  bytes.Buffer
}

func (l *vxLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("server: %s", bytes.TrimRight(p, "\n"))
	}
	l.buf.Write(p)
	return len(p), nil
}

// vxServer starts a server with RTMP and HTTP on loopback, recording into dir.
func vxServer(t *testing.T, dir string) *server.Server { return vxServerWith(t, dir, nil) }

// vxServerWith is vxServer with adjust applied to the configuration.
func vxServerWith(t *testing.T, dir string, adjust func(*server.Config)) *server.Server {
	t.Helper()
	lg := &vxLog{t: t}
	t.Cleanup(func() { lg.mu.Lock(); lg.done = true; lg.mu.Unlock() })
	cfg := server.Config{
		RTMPAddr:  "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		RecordDir: dir,
		WebDir:    t.TempDir(),
		Logger:    slog.New(slog.NewTextHandler(lg, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv := server.New(cfg)
	handleDefaultApps(srv)
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// vxResult is a finished external command.
type vxResult struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

// vxRun runs bin to completion within vxStepTimeout.
func vxRun(bin string, args ...string) vxResult {
	ctx, cancel := context.WithTimeout(context.Background(), vxStepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	return vxResult{out.String(), errb.String(), err, time.Since(start)}
}

// vxMust runs bin and fails the test on an error exit.
func vxMust(t *testing.T, bin string, args ...string) vxResult {
	t.Helper()
	r := vxRun(bin, args...)
	if r.err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// vxPublishArgs are ffmpeg's arguments to publish secs of H.264 + AAC test
// media in real time (1 s GOP: keyframes on whole seconds) to url.
func vxPublishArgs(secs int, url string) []string {
	return []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(secs),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", url}
}

// vxProbe is what ffprobe says about an input.
type vxProbe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
	} `json:"streams"`
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
}

func (p vxProbe) duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

func (p vxProbe) codecs() string {
	var c []string
	for _, s := range p.Streams {
		c = append(c, s.CodecName)
	}
	return strings.Join(c, "+")
}

// vxFFprobe runs ffprobe on input and decodes its JSON.
func vxFFprobe(t *testing.T, ffprobe, input string) vxProbe {
	t.Helper()
	r := vxMust(t, ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json", input)
	var p vxProbe
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, r.stdout)
	}
	return p
}

// vxCheckH264AAC fails unless the probe shows exactly an h264 and an aac stream.
func vxCheckH264AAC(t *testing.T, what string, p vxProbe) {
	t.Helper()
	if c := p.codecs(); c != "h264+aac" && c != "aac+h264" {
		t.Fatalf("%s: streams %q, want h264+aac", what, c)
	}
}

// vxLastPTS returns the largest packet timestamp (seconds) ffprobe finds in a
// file: how much of it decodes.
func vxLastPTS(t *testing.T, ffprobe, file string) float64 {
	t.Helper()
	r := vxMust(t, ffprobe, "-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", file)
	last := 0.0
	for _, l := range strings.Fields(r.stdout) {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64); err == nil && v > last {
			last = v
		}
	}
	return last
}

// vxDecodes checks that ffmpeg decodes the input with no error output.
func vxDecodes(t *testing.T, ffmpeg string, args ...string) {
	t.Helper()
	full := append([]string{"-hide_banner", "-nostdin", "-v", "error"}, args...)
	full = append(full, "-f", "null", "-")
	r := vxRun(ffmpeg, full...)
	if r.err != nil || strings.TrimSpace(r.stderr) != "" {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(full, " "), r.err, r.stderr)
	}
}

// vxTag is one FLV tag as read back.
type vxTag struct {
	typ  uint8
	ts   uint32
	pos  int64
	key  bool // video keyframe, not a sequence header
	seq  bool // sequence header
	data []byte
}

// vxParseFLV reads every tag of an FLV byte stream; the stream must end
// exactly after a whole tag.
func vxParseFLV(t *testing.T, what string, b []byte) []vxTag {
	t.Helper()
	var rd flvmux.Reader
	var out []vxTag
	var consumed, end int64
	for p := b; len(p) > 0; {
		n, tag, err := rd.Feed(p)
		p = p[n:]
		consumed += int64(n)
		if err != nil {
			t.Fatalf("%s: FLV error at byte %d: %v", what, consumed, err)
		}
		if tag == nil {
			continue
		}
		vt := vxTag{typ: tag.Type, ts: tag.Timestamp, pos: consumed - flvmux.TagHeaderSize - int64(tag.DataSize), data: bytes.Clone(tag.Data)}
		switch tag.Type {
		case flvmux.TagVideo:
			vt.seq = flvmux.IsVideoSequenceHeader(tag.Data)
			vt.key = flvmux.IsVideoKeyframe(tag.Data) && !vt.seq
		case flvmux.TagAudio:
			vt.seq = len(tag.Data) > 1 && tag.Data[0]>>4 == 10 && tag.Data[1] == 0
		}
		out = append(out, vt)
		end = consumed + flvmux.PrevTagSizeLen
	}
	if end != int64(len(b)) {
		t.Fatalf("%s: %d bytes, whole tags end at %d", what, len(b), end)
	}
	return out
}

// vxMeta decodes the onMetaData of a script tag.
func vxMeta(t *testing.T, tag vxTag) (flvmux.Metadata, amf0.Value, *amf0.Document) {
	t.Helper()
	if tag.typ != flvmux.TagScript {
		t.Fatalf("first tag is type %d, not metadata", tag.typ)
	}
	var md flvmux.Metadata
	doc := new(amf0.Document)
	if err := flvmux.ReadOnMetaData(tag.data, doc, &md); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	return md, doc.At(1), doc
}

// vxFirstKey returns the first video keyframe (not a sequence header).
func vxFirstKey(tags []vxTag) (vxTag, bool) {
	for _, tg := range tags {
		if tg.key {
			return tg, true
		}
		if tg.typ == flvmux.TagVideo && !tg.seq {
			return tg, false // an inter frame came first
		}
	}
	return vxTag{}, false
}

// vxRecord publishes secs of media with ffmpeg to srv's record app as name and
// waits until the recording is finished; it returns the file.
func vxRecord(t *testing.T, ffmpeg string, srv *server.Server, name string, secs int) string {
	t.Helper()
	vxMust(t, ffmpeg, vxPublishArgs(secs, "rtmp://"+srv.RTMPAddr()+"/record/"+name)...)
	var file string
	ok := vxWait(10*time.Second, func() bool {
		for _, in := range srv.Recorder().List() {
			if in.Stream == name && in.Complete {
				file = filepath.Join(srv.Recorder().Config().Dir, filepath.FromSlash(in.File))
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("recording of %s never finished", name)
	}
	return file
}

// vxWait polls cond every 20 ms for at most d.
func vxWait(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// vxPlayer is an RTMP test player on the client package that sends its own
// play, seek and pause commands.
type vxPlayer struct {
	t   *testing.T
	c   *client.Conn
	sid uint32
}

func vxDial(t *testing.T, ctx context.Context, url string, bufferMs uint32) *vxPlayer {
	t.Helper()
	c, err := client.Dial(ctx, url, client.Config{ChunkSize: vxChunkSize, BufferLength: bufferMs})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &vxPlayer{t: t, c: c}
}

// command sends name(0, null, args...) on the player's NetStream.
func (p *vxPlayer) command(name string, args ...any) {
	p.t.Helper()
	b := amf0.AppendCommandStart(nil, name, 0)
	b = amf0.AppendNull(b)
	for _, a := range args {
		switch v := a.(type) {
		case string:
			b = amf0.AppendString(b, v)
		case float64:
			b = amf0.AppendNumber(b, v)
		case int:
			b = amf0.AppendNumber(b, float64(v))
		case bool:
			b = amf0.AppendBoolean(b, v)
		}
	}
	msg := chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: vxClientStream, TypeID: chunkcodec.TypeCommandAMF0, StreamID: p.sid}, b, vxChunkSize)
	if _, err := p.c.RawConn().Write(msg); err != nil {
		p.t.Fatalf("%s: %v", name, err)
	}
}

// play creates a stream and plays name from startMs with a buffer of bufferMs.
func (p *vxPlayer) play(ctx context.Context, name string, startMs float64, bufferMs uint32) {
	p.t.Helper()
	doc, err := p.c.Call(ctx, "createStream")
	if err != nil {
		p.t.Fatalf("createStream: %v", err)
	}
	p.sid = uint32(doc.At(3).Number())
	p.command("play", name, startMs)
	if _, err := p.c.RawConn().Write(chunkcodec.AppendSetBufferLength(nil, p.sid, bufferMs)); err != nil {
		p.t.Fatal(err)
	}
}

// vxMsg is a message the player kept.
type vxMsg struct {
	typ     uint8
	ts      uint32
	code    string // onStatus code, or onPlayStatus code for data messages
	event   int    // user control event, -1 otherwise
	key     bool   // video keyframe (not a sequence header)
	seq     bool   // video sequence header
	payload []byte
}

// read reads messages until stop returns true (the message is included) or d passes.
func (p *vxPlayer) read(d time.Duration, stop func(m vxMsg) bool) ([]vxMsg, error) {
	_ = p.c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = p.c.SetReadDeadline(time.Time{}) }()
	var out []vxMsg
	var doc amf0.Document
	for {
		m, err := p.c.ReadMessage()
		if err != nil {
			return out, err
		}
		v := vxMsg{typ: m.TypeID, ts: m.Timestamp, event: -1}
		switch m.TypeID {
		case chunkcodec.TypeVideo:
			v.seq = flvmux.IsVideoSequenceHeader(m.Payload)
			v.key = flvmux.IsVideoKeyframe(m.Payload) && !v.seq
			v.payload = bytes.Clone(m.Payload)
		case chunkcodec.TypeAudio:
			v.payload = bytes.Clone(m.Payload)
		case chunkcodec.TypeCommandAMF0:
			v.code, _ = client.StatusCode(m)
		case chunkcodec.TypeDataAMF0:
			if _, err := doc.Decode(m.Payload); err == nil || doc.Len() >= 2 {
				if doc.At(0).Str() == "onPlayStatus" {
					v.code = doc.At(1).Get("code").Str()
				}
			}
			v.payload = bytes.Clone(m.Payload)
		case chunkcodec.TypeUserControl:
			if ev, ok := client.UserControlEvent(m); ok {
				v.event = int(ev.Event)
			}
		}
		out = append(out, v)
		if stop(v) {
			return out, nil
		}
	}
}

func TestVODRecordAndPlayBack(t *testing.T) {
	ffmpeg, ffprobe := vxFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), vxTestTimeout)
	defer cancel()
	root := t.TempDir()
	dir := filepath.Join(root, "rec")
	srv := vxServer(t, dir)
	file := vxRecord(t, ffmpeg, srv, "cam", vxRecordSecs)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tags := vxParseFLV(t, file, raw)
	md, arr, _ := vxMeta(t, tags[0])
	rtmpURL := "rtmp://" + srv.RTMPAddr() + "/record/"
	httpURL := "http://" + srv.HTTPAddr() + "/record/"

	t.Run("File", func(t *testing.T) {
		p := vxFFprobe(t, ffprobe, file)
		vxCheckH264AAC(t, "file", p)
		if d := p.duration(); math.Abs(d-vxRecordSecs) > 0.2 {
			t.Fatalf("ffprobe duration %v, want %d ± 0.2", d, vxRecordSecs)
		}
		if !arr.Get("quaverComplete").Bool() {
			t.Fatal("quaverComplete is not true")
		}
		// The metadata's keyframe index is what a scan of the file finds.
		var times, pos []float64
		for _, tg := range tags {
			if tg.key {
				times = append(times, float64(tg.ts)/1000)
				pos = append(pos, float64(tg.pos))
			}
		}
		k := md.Keyframes
		if len(times) < vxRecordSecs || len(k.Times) != len(times) || len(k.FilePositions) != len(pos) {
			t.Fatalf("index: %d times, %d positions; scan: %d keyframes", len(k.Times), len(k.FilePositions), len(times))
		}
		for i := range times {
			if k.Times[i] != times[i] || k.FilePositions[i] != pos[i] {
				t.Fatalf("keyframe %d: index (%v s @%v), scan (%v s @%v)", i, k.Times[i], k.FilePositions[i], times[i], pos[i])
			}
		}
		// Seek to the middle and decode.
		vxDecodes(t, ffmpeg, "-ss", "5", "-i", file, "-frames:v", "1")
		vxDecodes(t, ffmpeg, "-i", file)
	})

	t.Run("RTMPProbe", func(t *testing.T) {
		vxCheckH264AAC(t, "rtmp", vxFFprobe(t, ffprobe, rtmpURL+"cam"))
	})

	t.Run("RTMPPaced", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.flv")
		// A 500 ms player buffer (FFmpeg's default is 3 s): the server sends
		// about 0.75 s ahead of real time, so 3 s of media take over 2 s.
		r := vxMust(t, ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-rtmp_buffer", "500",
			"-i", rtmpURL+"cam", "-t", "3", "-c", "copy", "-y", out)
		if r.took < 2*time.Second {
			t.Fatalf("3 s of a recording came in %v: not paced", r.took)
		}
		p := vxFFprobe(t, ffprobe, out)
		vxCheckH264AAC(t, "copy", p)
		if d := p.duration(); d < 2.5 {
			t.Fatalf("copied %v s, want about 3", d)
		}
		t.Logf("3 s over RTMP in %v", r.took)
	})

	t.Run("RTMPToTheEnd", func(t *testing.T) {
		// A 60 s buffer (capped at MaxVODBufferLength, as long as the
		// recording): the whole recording comes at once, and the end when
		// the playhead reaches the last tag.
		p := vxDial(t, ctx, rtmpURL+"cam", 60000)
		doc, err := p.c.Call(ctx, "getStreamLength", "cam")
		if err != nil {
			t.Fatalf("getStreamLength: %v", err)
		}
		if d := doc.At(3).Number(); math.Abs(d-md.Duration) > 0.001 {
			t.Fatalf("getStreamLength = %v, want %v", d, md.Duration)
		}
		p.play(ctx, "cam", -2000, 60000)
		msgs, err := p.read(vxStepTimeout, func(m vxMsg) bool { return m.code == "NetStream.Play.Stop" })
		if err != nil {
			t.Fatalf("reading to the end: %v", err)
		}
		var videos, audios, eof int
		start, meta := false, false
		for _, m := range msgs {
			switch {
			case m.code == "NetStream.Play.Start":
				start = true
			case m.typ == chunkcodec.TypeDataAMF0 && bytes.Contains(m.payload, []byte("onMetaData")):
				meta = true
			case m.typ == chunkcodec.TypeVideo:
				videos++
			case m.typ == chunkcodec.TypeAudio:
				audios++
			case m.event == int(chunkcodec.EventStreamEOF):
				eof++
			}
		}
		var fileVideos, fileAudios int
		for _, tg := range tags {
			switch tg.typ {
			case flvmux.TagVideo:
				fileVideos++
			case flvmux.TagAudio:
				fileAudios++
			}
		}
		if !start || !meta || eof != 1 || videos != fileVideos || audios != fileAudios {
			t.Fatalf("start=%v metadata=%v eof=%d videos=%d/%d audios=%d/%d", start, meta, eof, videos, fileVideos, audios, fileAudios)
		}
		rest, _ := p.read(2*time.Second, func(m vxMsg) bool { return m.code == "NetStream.Play.Complete" })
		if len(rest) == 0 || rest[len(rest)-1].code != "NetStream.Play.Complete" {
			t.Fatal("no onPlayStatus NetStream.Play.Complete after NetStream.Play.Stop")
		}
	})

	t.Run("RTMPSeek", func(t *testing.T) {
		p := vxDial(t, ctx, rtmpURL+"cam", 1000)
		p.play(ctx, "cam", 5000, 1000) // start argument: 5 s
		msgs, err := p.read(vxStepTimeout, func(m vxMsg) bool { return m.typ == chunkcodec.TypeVideo && !m.seq })
		if err != nil {
			t.Fatalf("play from 5 s: %v", err)
		}
		first := msgs[len(msgs)-1]
		if !first.key || first.ts > 5000 || first.ts < 4000 {
			t.Fatalf("play from 5 s starts with a video frame at %d ms (keyframe %v)", first.ts, first.key)
		}
		if first.ts != 5000 {
			t.Logf("play from 5 s starts at the keyframe at %d ms", first.ts)
		}
		seqOK := false
		for _, m := range msgs {
			seqOK = seqOK || m.seq
		}
		if !seqOK {
			t.Fatal("no sequence header before the first frame")
		}
		// seek to 8 s while playing.
		p.command("seek", 8000)
		msgs, err = p.read(vxStepTimeout, func(m vxMsg) bool { return m.code == "NetStream.Seek.Notify" })
		if err != nil {
			t.Fatalf("no NetStream.Seek.Notify: %v", err)
		}
		msgs, err = p.read(vxStepTimeout, func(m vxMsg) bool { return m.typ == chunkcodec.TypeVideo && !m.seq })
		if err != nil {
			t.Fatalf("after the seek: %v", err)
		}
		got := msgs[len(msgs)-1]
		if !got.key || got.ts > 8000 || got.ts < 7000 {
			t.Fatalf("after seek to 8 s: video frame at %d ms (keyframe %v)", got.ts, got.key)
		}
		// Pause: the clock stops, so the media time received stops advancing.
		p.command("pause", true, 0)
		msgs, err = p.read(vxStepTimeout, func(m vxMsg) bool { return m.code == "NetStream.Pause.Notify" })
		if err != nil {
			t.Fatalf("no NetStream.Pause.Notify: %v", err)
		}
		var at uint32
		for _, m := range msgs {
			if m.typ == chunkcodec.TypeVideo {
				at = max(at, m.ts)
			}
		}
		during, _ := p.read(1500*time.Millisecond, func(vxMsg) bool { return false })
		var maxPaused uint32
		for _, m := range during {
			if m.typ == chunkcodec.TypeVideo {
				maxPaused = max(maxPaused, m.ts)
			}
		}
		if maxPaused > at+700 {
			t.Fatalf("paused at %d ms of media, still received media up to %d ms", at, maxPaused)
		}
		p.command("pause", false, 0)
		msgs, err = p.read(vxStepTimeout, func(m vxMsg) bool { return m.typ == chunkcodec.TypeVideo && m.ts > max(at, maxPaused) })
		if err != nil {
			t.Fatalf("no media after unpause: %v", err)
		}
		unpaused := false
		for _, m := range msgs {
			unpaused = unpaused || m.code == "NetStream.Unpause.Notify"
		}
		if !unpaused {
			t.Fatal("no NetStream.Unpause.Notify")
		}
	})

	t.Run("RTMPFileName", func(t *testing.T) {
		base := filepath.Base(file)
		for _, name := range []string{base, strings.TrimSuffix(base, ".flv")} {
			p := vxDial(t, ctx, rtmpURL+name, 1000)
			if err := p.c.Play(ctx, name); err != nil {
				t.Fatalf("play %s: %v", name, err)
			}
			if _, err := p.read(vxStepTimeout, func(m vxMsg) bool { return m.key }); err != nil {
				t.Fatalf("play %s: %v", name, err)
			}
		}
	})

	t.Run("HTTPFLV", func(t *testing.T) {
		p := vxFFprobe(t, ffprobe, httpURL+"cam.flv")
		vxCheckH264AAC(t, "http", p)
		if d := p.duration(); math.Abs(d-vxRecordSecs) > 0.3 {
			t.Fatalf("ffprobe over HTTP: duration %v, want about %d", d, vxRecordSecs)
		}
		vxDecodes(t, ffmpeg, "-i", httpURL+"cam.flv")
		// The body is the file, byte for byte, and the response ends.
		resp, err := http.Get(httpURL + "cam.flv")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET: %d, %v", resp.StatusCode, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "video/x-flv" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("headers %v", resp.Header)
		}
		if !bytes.Equal(body, raw) {
			t.Fatalf("body of %d bytes differs from the file (%d bytes)", len(body), len(raw))
		}
		// A file by name.
		resp, err = http.Get(httpURL + filepath.Base(file))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, raw) {
			t.Fatalf("GET by file name: %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("HTTPStart", func(t *testing.T) {
		resp, err := http.Get(httpURL + "cam.flv?start=5")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET ?start=5: %d, %v", resp.StatusCode, err)
		}
		got := vxParseFLV(t, "?start=5", body)
		if got[0].typ != flvmux.TagScript {
			t.Fatal("?start=5 does not start with the metadata")
		}
		key, ok := vxFirstKey(got)
		if !ok || key.ts > 5000 || key.ts < 4000 {
			t.Fatalf("?start=5: first video frame at %d ms, keyframe %v", key.ts, ok)
		}
		if !got[1].seq || !got[2].seq {
			t.Fatal("?start=5: the sequence headers do not follow the metadata")
		}
		// From that keyframe on, the tags are the file's.
		var want int
		for _, tg := range tags {
			if tg.typ != flvmux.TagScript && tg.ts >= key.ts && !tg.seq {
				want++
			}
		}
		if n := len(got) - 3; n != want {
			t.Fatalf("?start=5: %d tags after the headers, the file has %d from %d ms", n, want, key.ts)
		}
		vxDecodes(t, ffmpeg, "-i", httpURL+"cam.flv?start=5")
	})

	t.Run("WebSocketFLV", func(t *testing.T) {
		conn, br, _, err := ws.Dial(ctx, "ws://"+srv.HTTPAddr()+"/record/cam.flv")
		if err != nil {
			t.Fatalf("ws dial: %v", err)
		}
		defer conn.Close()
		var r io.Reader = conn
		if br != nil {
			r = io.MultiReader(br, conn)
		}
		_ = conn.SetReadDeadline(time.Now().Add(vxStepTimeout))
		var got []byte
		frames := 0
		for {
			f, err := ws.ReadFrame(r)
			if err != nil {
				t.Fatalf("ws read after %d frames, %d bytes: %v", frames, len(got), err)
			}
			if f.Header.OpCode == ws.OpClose {
				code, reason := ws.ParseCloseFrameData(f.Payload)
				if code != ws.StatusNormalClosure {
					t.Fatalf("close %d %q, want 1000", code, reason)
				}
				_ = ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
				break
			}
			if f.Header.OpCode != ws.OpBinary {
				t.Fatalf("frame opcode %v", f.Header.OpCode)
			}
			frames++
			got = append(got, f.Payload...)
		}
		wsTags := vxParseFLV(t, "websocket", got)
		if len(wsTags) != len(tags) || !bytes.Equal(got, raw) {
			t.Fatalf("websocket: %d tags in %d bytes, file: %d tags in %d bytes", len(wsTags), len(got), len(tags), len(raw))
		}
	})

	t.Run("NamesCannotEscape", func(t *testing.T) {
		// A real recording outside the record directory.
		outside := filepath.Join(root, "outside")
		if err := os.MkdirAll(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "secret.flv"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		abs := filepath.Join(outside, "secret.flv")
		for _, name := range []string{"../outside/secret.flv", "../../outside/secret", "..", abs, "/etc/passwd", "a/../../outside/secret.flv"} {
			p := vxDial(t, ctx, rtmpURL+"x", 1000)
			err := p.c.Play(ctx, name)
			var se *client.StatusError
			if !errors.As(err, &se) || se.Code != "NetStream.Play.Failed" {
				t.Fatalf("RTMP play %q: %v; want NetStream.Play.Failed", name, err)
			}
		}
		for _, path := range []string{
			"/record/../outside/secret.flv", "/record/../../outside/secret.flv", "/record/..%2Foutside%2Fsecret.flv",
			"/record/%2e%2e/outside/secret.flv", "/record/" + abs, "/record//etc/passwd", "/record/x/../../outside/secret.flv",
			"/record/nothing.flv",
		} {
			status := vxRawGET(t, srv.HTTPAddr(), path)
			if status != 404 && status != 403 {
				t.Fatalf("GET %s: status %d, want 404 or 403", path, status)
			}
		}
	})
}

// vxRawGET sends a GET for path exactly as given (no client-side cleaning)
// and returns the status code.
func vxRawGET(t *testing.T, addr, path string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(vxStepTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// vxBuildRTMPD builds the rtmpd binary into a temporary directory.
func vxBuildRTMPD(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rtmpd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/quaverlive/quaver/cmd/rtmpd")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build rtmpd: %v\n%s", err, out)
	}
	return bin
}

// vxFreeAddr returns a loopback address with a free port.
func vxFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// vxDaemon is a running rtmpd.
type vxDaemon struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	done chan struct{}
}

// vxStartDaemon runs rtmpd recording into dir and waits until it accepts RTMP.
func vxStartDaemon(t *testing.T, bin, dir string) *vxDaemon {
	t.Helper()
	for attempt := 0; ; attempt++ {
		d := &vxDaemon{addr: vxFreeAddr(t), log: new(bytes.Buffer), done: make(chan struct{})}
		d.cmd = exec.Command(bin, "-rtmp", d.addr, "-http", "", "-admin", "", "-record-dir", dir, "-log-level", "info")
		d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
		if err := d.cmd.Start(); err != nil {
			t.Fatalf("start rtmpd: %v", err)
		}
		go func() { _ = d.cmd.Wait(); close(d.done) }()
		t.Cleanup(func() { d.kill() })
		up := vxWait(10*time.Second, func() bool {
			select {
			case <-d.done:
				return true
			default:
			}
			c, err := net.DialTimeout("tcp", d.addr, time.Second)
			if err != nil {
				return false
			}
			_ = c.Close()
			return true
		})
		select {
		case <-d.done:
			if attempt < 2 { // the port was taken in between: try another
				continue
			}
			t.Fatalf("rtmpd exited:\n%s", d.log)
		default:
		}
		if !up {
			t.Fatalf("rtmpd does not accept connections:\n%s", d.log)
		}
		return d
	}
}

func (d *vxDaemon) kill() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// vxQuaverComplete reads quaverComplete from a recording's metadata.
func vxQuaverComplete(t *testing.T, file string) bool {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tags := vxParseFLV(t, file, raw)
	_, arr, _ := vxMeta(t, tags[0])
	return arr.Get("quaverComplete").Bool()
}

func TestVODKill9Repair(t *testing.T) {
	ffmpeg, ffprobe := vxFFmpeg(t)
	bin := vxBuildRTMPD(t)
	dir := filepath.Join(t.TempDir(), "rec")
	d := vxStartDaemon(t, bin, dir)

	ctx, cancel := context.WithTimeout(context.Background(), vxTestTimeout)
	defer cancel()
	pub := exec.CommandContext(ctx, ffmpeg, vxPublishArgs(30, "rtmp://"+d.addr+"/record/crash")...)
	var pubErr bytes.Buffer
	pub.Stderr = &pubErr
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	pubDone := make(chan struct{})
	go func() { _ = pub.Wait(); close(pubDone) }()
	defer func() { _ = pub.Process.Kill(); <-pubDone }()

	// About 4 s of recording, then SIGKILL.
	var file string
	if !vxWait(15*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "record", "crash-*.flv"))
		if len(m) == 1 {
			file = m[0]
		}
		return file != ""
	}) {
		t.Fatalf("no recording appeared\n%s\n%s", d.log, pubErr.String())
	}
	time.Sleep(4 * time.Second)
	d.kill()
	_ = pub.Process.Kill()
	<-pubDone

	if vxQuaverComplete(t, file) {
		t.Fatal("a killed recording says quaverComplete=true")
	}
	// Playable as it is, up to the last flush.
	vxDecodes(t, ffmpeg, "-i", file)
	decoded := vxLastPTS(t, ffprobe, file)
	if decoded < 2.5 {
		t.Fatalf("the killed recording decodes to %v s, want at least 2.5", decoded)
	}
	t.Logf("killed recording decodes to %.3f s", decoded)
	// A copy for the repair at startup.
	dir2 := filepath.Join(t.TempDir(), "rec")
	if err := os.MkdirAll(filepath.Join(dir2, "record"), 0o755); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(dir2, "record", filepath.Base(file))
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o644); err != nil {
		t.Fatal(err)
	}

	checkRepaired := func(t *testing.T, f string) {
		t.Helper()
		if !vxQuaverComplete(t, f) {
			t.Fatal("quaverComplete is not true after repair")
		}
		p := vxFFprobe(t, ffprobe, f)
		vxCheckH264AAC(t, "repaired", p)
		last := vxLastPTS(t, ffprobe, f)
		if math.Abs(p.duration()-last) > 0.5 || last < decoded-0.1 {
			t.Fatalf("repaired: duration %v, decoded %v (before repair %v)", p.duration(), last, decoded)
		}
		vxDecodes(t, ffmpeg, "-i", f)
		vxDecodes(t, ffmpeg, "-ss", fmt.Sprint(last/2), "-i", f, "-frames:v", "1")
	}
	t.Run("RepairCommand", func(t *testing.T) {
		r := vxMust(t, bin, "repair", file)
		if !strings.Contains(r.stdout, "repaired") {
			t.Fatalf("rtmpd repair said %q", r.stdout)
		}
		checkRepaired(t, file)
	})
	t.Run("RepairAtStartup", func(t *testing.T) {
		d2 := vxStartDaemon(t, bin, dir2)
		_ = d2.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d2.done:
		case <-time.After(10 * time.Second):
			t.Fatal("rtmpd did not stop on SIGTERM")
		}
		if !strings.Contains(d2.log.String(), "repaired") {
			t.Logf("rtmpd log:\n%s", d2.log)
		}
		checkRepaired(t, copied)
	})
}

// vxSynthRecording records durMs of synthetic AVC+AAC media (keyframes of
// keySize bytes every second) through srv's recorder and returns the file.
func vxSynthRecording(t *testing.T, srv *server.Server, name string, durMs, keySize int) string {
	t.Helper()
	rec, err := srv.Recorder().Start("record", name)
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		if _, err := rec.Writev([][]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	write(flvmux.AppendFileHeader(nil, true, true))
	write(flvmux.AppendTag(nil, flvmux.TagVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0}))
	write(flvmux.AppendTag(nil, flvmux.TagAudio, 0, []byte{0xaf, 0, 0x12, 0x10}))
	for ts := 0; ts < durMs; ts += 40 {
		key := ts%1000 == 0
		size := 1500
		if key {
			size = keySize
		}
		v := make([]byte, size)
		v[0], v[1] = 0x27, 1
		if key {
			v[0] = 0x17
		}
		for i := 5; i < size; i++ {
			v[i] = byte(ts + i)
		}
		write(flvmux.AppendTag(nil, flvmux.TagVideo, uint32(ts), v))
		write(flvmux.AppendTag(nil, flvmux.TagAudio, uint32(ts), []byte{0xaf, 1, 1, 2, 3, 4}))
		if ts%5000 == 0 {
			time.Sleep(20 * time.Millisecond) // let the writer keep up (its queue is bounded)
		}
	}
	rec.Stop()
	if err := rec.Wait(); err != nil {
		t.Fatal(err)
	}
	return rec.Path()
}

// vxGoroutines counts goroutines whose stack contains fn.
func vxGoroutines(fn string) int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), fn)
}

// vxOpenFDs counts this process's open descriptors on path (Linux), or -1.
func vxOpenFDs(path string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

func TestVODBackPressureAndClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), vxTestTimeout)
	defer cancel()
	srv := vxServer(t, filepath.Join(t.TempDir(), "rec"))
	// 60 s with 300 KiB keyframes: about 20 MB, more than the socket buffers
	// and the server's per-play watermark together.
	file := vxSynthRecording(t, srv, "big", 60000, 300<<10)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recording of %d bytes", len(raw))

	t.Run("HTTPSlowReader", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", srv.HTTPAddr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /record/big.flv HTTP/1.1\r\nHost: x\r\n\r\n")
		// Read nothing: the play must stop reading the file and wait.
		if !vxWait(10*time.Second, func() bool { return vxGoroutines("vod.(*Play).drain") == 1 }) {
			t.Fatal("the play never waited for its slow client")
		}
		_ = c.SetReadDeadline(time.Now().Add(vxStepTimeout))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(body, raw) {
			t.Fatalf("slow reader got %d bytes (%v), the file has %d", len(body), err, len(raw))
		}
	})

	t.Run("CloseStopsPlays", func(t *testing.T) {
		// An RTMP play (paced, so it runs for a minute) and a stalled HTTP play.
		p := vxDial(t, ctx, "rtmp://"+srv.RTMPAddr()+"/record/big", 1000)
		if err := p.c.Play(ctx, "big"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.read(vxStepTimeout, func(m vxMsg) bool { return m.key }); err != nil {
			t.Fatal(err)
		}
		h, err := net.DialTimeout("tcp", srv.HTTPAddr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "GET /record/big.flv HTTP/1.1\r\nHost: x\r\n\r\n")
		if !vxWait(10*time.Second, func() bool {
			n := vxOpenFDs(file)
			return vxGoroutines("vod.(*Play).run") == 2 && (n == 2 || n == -1)
		}) {
			t.Fatalf("%d VOD plays running with %d descriptors on the recording, want 2 and 2",
				vxGoroutines("vod.(*Play).run"), vxOpenFDs(file))
		}
		_ = p.c.Close()
		_ = h.Close()
		if !vxWait(5*time.Second, func() bool { return vxGoroutines("vod.(*Play).run") == 0 }) {
			t.Fatalf("%d VOD plays still running after their clients left", vxGoroutines("vod.(*Play).run"))
		}
		if n := vxOpenFDs(file); n > 0 {
			t.Fatalf("%d descriptors still open on the recording", n)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		if s := vxRawGET(t, srv.HTTPAddr(), "/record/nothing.flv"); s != 404 {
			t.Fatalf("GET a missing recording: %d", s)
		}
		conn, br, _, err := ws.Dial(ctx, "ws://"+srv.HTTPAddr()+"/record/nothing.flv")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var r io.Reader = conn
		if br != nil {
			r = io.MultiReader(br, conn)
		}
		_ = conn.SetReadDeadline(time.Now().Add(vxStepTimeout))
		f, err := ws.ReadFrame(r)
		if err != nil || f.Header.OpCode != ws.OpClose {
			t.Fatalf("ws for a missing recording: %v, %+v", err, f.Header)
		}
		if code, _ := ws.ParseCloseFrameData(f.Payload); code != 4404 {
			t.Fatalf("close code %d, want 4404", code)
		}
		// RTMP: with nothing recorded, the player waits for a live publisher.
		p := vxDial(t, ctx, "rtmp://"+srv.RTMPAddr()+"/record/nothing", 1000)
		if err := p.c.Play(ctx, "nothing"); err != nil {
			t.Fatalf("play of a name with no recording: %v", err)
		}
	})
}
