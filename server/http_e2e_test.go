package server_test

// End-to-end tests of the HTTP side: HTTP-FLV and WebSocket-FLV plays of a
// stream published by a real ffmpeg, read by ffmpeg, ffprobe and a gobwas/ws
// client; the error paths (not live, rejected, malformed requests) and a slow
// WebSocket player. Servers listen on 127.0.0.1 with OS-chosen ports; every
// network wait has a deadline. Helpers are prefixed hx.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/server"
	"github.com/quaverlive/quaver/wsflv"
)

// Bounds of the HTTP end-to-end tests.
const (
	hxTestTimeout = 90 * time.Second // one test as a whole (bounds the ffmpeg processes)
	hxIOTimeout   = 5 * time.Second  // one network exchange
	hxLiveTimeout = 15 * time.Second // ffmpeg getting on air
)

// hxLog collects the server's log for the failure report.
type hxLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *hxLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *hxLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hxServer is a started server with its resolved addresses.
type hxServer struct {
	*server.Server
	http, rtmp string
	admin      string // the admin listener (metrics)
	log        *hxLog
}

// hxStart starts a server with RTMP and HTTP on 127.0.0.1, apps registered,
// logging at info level into a buffer that is printed if the test fails.
func hxStart(t *testing.T, cfg server.Config, apps map[string]*server.App) *hxServer {
	t.Helper()
	lg := &hxLog{}
	t.Cleanup(func() { // runs after the shutdown registered below
		if t.Failed() {
			t.Logf("server log:\n%s", lg.String())
		}
	})
	cfg.RTMPAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.WebDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(lg, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := server.New(cfg)
	handleDefaultApps(srv)
	for name, app := range apps {
		srv.Handle(name, app)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if srv.HTTPAddr() == "" {
		t.Fatal("HTTPAddr is empty")
	}
	return &hxServer{Server: srv, http: srv.HTTPAddr(), rtmp: srv.RTMPAddr(), admin: srv.AdminAddr(), log: lg}
}

// hxTools returns ffmpeg and ffprobe, skipping the test when either is missing.
func hxTools(t *testing.T) (ffmpeg, ffprobe string) {
	t.Helper()
	var err error
	if ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	if ffprobe, err = exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	return ffmpeg, ffprobe
}

// hxContext is bounded by hxTestTimeout and cancelled in cleanup.
func hxContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hxTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// hxPublishing reports whether app/name has a publisher.
func (s *hxServer) hxPublishing(app, name string) bool {
	for _, st := range s.Streams() {
		if st.App == app && st.Name == name && st.Publishing {
			return true
		}
	}
	return false
}

// hxPublish publishes live/name with a real ffmpeg (the command of the
// brief) until the test ends, and waits until the stream is on air with at
// least one whole GOP in the cache.
func hxPublish(t *testing.T, ctx context.Context, s *hxServer, ffmpeg, name string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25",
		"-c:a", "aac", "-f", "flv", "rtmp://"+s.rtmp+"/live/"+name)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ffmpeg: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	start := s.Stats().Fanout.PacketsIn
	if !waitFor(hxLiveTimeout, func() bool {
		select {
		case <-done:
			return true
		default:
		}
		// About 1.5 s of audio and video: a keyframe has been published.
		return s.hxPublishing("live", name) && s.Stats().Fanout.PacketsIn-start > 100
	}) {
		t.Fatalf("live/%s not on air within %v; ffmpeg: %s", name, hxLiveTimeout, stderr.String())
	}
	select {
	case <-done:
		t.Fatalf("ffmpeg exited: %s", stderr.String())
	default:
	}
}

// hxRun runs a command with a timeout and returns its stdout.
func hxRun(t *testing.T, timeout time.Duration, bin string, args ...string) []byte {
	t.Helper()
	out, err := hxRunErr(t, timeout, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hxRunErr is hxRun for any goroutine: it returns the failure.
func hxRunErr(t *testing.T, timeout time.Duration, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("%s stderr: %s", filepath.Base(bin), s)
	}
	return stdout.Bytes(), nil
}

// hxResponse is a complete HTTP response read from a raw connection.
type hxResponse struct {
	*http.Response
	body   []byte
	closed bool // the server closed the connection after the response
}

// hxRequest sends raw bytes to the HTTP port and reads one response (its
// whole body, then whether the connection is closed).
func hxRequest(t *testing.T, addr string, raw string) hxResponse {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hxIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(hxIOTimeout))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", hxShort(raw), err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var one [1]byte
	_, err = br.Read(one[:])
	return hxResponse{Response: resp, body: body, closed: errors.Is(err, io.EOF) || hxIsReset(err)}
}

func hxShort(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

func hxIsReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// hxFLVReader is a healthy HTTP-FLV player that counts the bytes it gets
// and checks that they parse as FLV.
type hxFLVReader struct {
	conn  net.Conn
	bytes atomic.Int64
	tags  atomic.Int64
	mu    sync.Mutex
	err   error
	done  chan struct{}
}

// hxStartFLVReader plays path over HTTP-FLV until the test ends.
func hxStartFLVReader(t *testing.T, addr, path string) *hxFLVReader {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, hxIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	r := &hxFLVReader{conn: c, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = c.Close()
		<-r.done
	})
	_ = c.SetDeadline(time.Now().Add(hxIOTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: hx-reader\r\n\r\n", path, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("HTTP-FLV %s: %v", path, err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/x-flv" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("HTTP-FLV %s: status %d, content type %q, ACAO %q", path, resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Access-Control-Allow-Origin"))
	}
	_ = c.SetDeadline(time.Time{})
	go func() {
		defer close(r.done)
		var fr flvmux.Reader
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			r.bytes.Add(int64(n))
			for p := buf[:n]; len(p) > 0; {
				k, tag, ferr := fr.Feed(p)
				if ferr != nil {
					r.fail(fmt.Errorf("FLV: %w", ferr))
					return
				}
				p = p[k:]
				if tag != nil {
					r.tags.Add(1)
				}
			}
			if err != nil {
				r.fail(err)
				return
			}
		}
	}()
	return r
}

func (r *hxFLVReader) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// Err is the error that stopped the reader, or nil while it reads.
func (r *hxFLVReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// hxAdvancing waits until the reader has received more bytes than before
// plus min, failing the test if it does not within hxIOTimeout.
func (r *hxFLVReader) hxAdvancing(t *testing.T, what string, min int64) {
	t.Helper()
	before := r.bytes.Load()
	if !waitFor(hxIOTimeout, func() bool { return r.bytes.Load() > before+min }) {
		t.Fatalf("%s: the healthy HTTP-FLV reader stalled at %d bytes (err %v)", what, r.bytes.Load(), r.Err())
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: the healthy HTTP-FLV reader failed: %v", what, err)
	}
}

// hxWS is a WebSocket client connection made with gobwas/ws.
type hxWS struct {
	net.Conn
	rd     io.Reader // the handshake's read-ahead buffer, then the conn
	header http.Header
}

// Read reads through the handshake's read-ahead buffer.
func (c *hxWS) Read(p []byte) (int, error) { return c.rd.Read(p) }

// hxDialWS opens a WebSocket to url. netDial, if set, makes the TCP connection.
func hxDialWS(ctx context.Context, url string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*hxWS, error) {
	h := http.Header{}
	d := ws.Dialer{
		Timeout:  hxIOTimeout,
		NetDial:  netDial,
		OnHeader: func(k, v []byte) error { h.Add(string(k), string(v)); return nil },
	}
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &hxWS{Conn: conn, rd: conn, header: h}
	if br != nil {
		c.rd = br
	}
	return c, nil
}

// hxReadFrame reads one server frame.
func (c *hxWS) hxReadFrame() (ws.Header, []byte, error) {
	h, err := ws.ReadHeader(c)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, errors.New("server frame is masked")
	}
	if h.Length > 16<<20 {
		return h, nil, fmt.Errorf("server frame of %d bytes", h.Length)
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(c, p)
	return h, p, err
}

// hxUntil reads frames, skipping binary ones, until one with opcode op.
func (c *hxWS) hxUntil(op ws.OpCode) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
	for {
		h, p, err := c.hxReadFrame()
		if err != nil {
			return nil, err
		}
		switch h.OpCode {
		case op:
			return p, nil
		case ws.OpBinary, ws.OpContinuation:
		default:
			return nil, fmt.Errorf("unexpected frame %v (%q) while waiting for %v", h.OpCode, p, op)
		}
	}
}

// hxCloseOf returns the close frame a not-live or rejected play gets, read
// with wsutil.ReadServerData.
func hxCloseOf(t *testing.T, ctx context.Context, url string) wsutil.ClosedError {
	t.Helper()
	c, err := hxDialWS(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(hxIOTimeout))
	p, op, err := wsutil.ReadServerData(c)
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %v message of %d bytes, err %v; want a close frame", url, op, len(p), err)
	}
	return ce
}

// hxWSTag is one FLV tag received over WS-FLV, as received.
type hxWSTag struct {
	typ  uint8
	ts   uint32
	data []byte
}

// hxReadWSFLV reads a WS-FLV play: the FLV header message, then messages
// that must each be one FLV tag, until video reaches minVideoMS.
func hxReadWSFLV(t *testing.T, c *hxWS, minVideoMS uint32) []hxWSTag {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * hxIOTimeout))
	defer c.SetReadDeadline(time.Time{})
	hdr, op, err := wsutil.ReadServerData(c)
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	if op != ws.OpBinary || len(hdr) != flvmux.FileHeaderSize+flvmux.PrevTagSizeLen {
		t.Fatalf("first message: %v of %d bytes (% x), want a 13-byte binary FLV header", op, len(hdr), hdr)
	}
	fh, n, err := flvmux.ReadFileHeader(hdr)
	if err != nil || n != len(hdr) || !fh.HasAudio || !fh.HasVideo || fh.Version != 1 ||
		binary.BigEndian.Uint32(hdr[9:]) != 0 {
		t.Fatalf("FLV header % x: %+v n=%d err=%v, want version 1 with audio and video", hdr, fh, n, err)
	}
	stream := bytes.Clone(hdr)
	var tags []hxWSTag
	for {
		msg, op, err := wsutil.ReadServerData(c)
		if err != nil {
			t.Fatalf("after %d tags: %v", len(tags), err)
		}
		if op != ws.OpBinary {
			t.Fatalf("message %d is %v, want binary", len(tags)+1, op)
		}
		th, _, err := flvmux.ReadTagHeader(msg)
		if err != nil || len(msg) != flvmux.TagSize(int(th.DataSize)) ||
			binary.BigEndian.Uint32(msg[len(msg)-4:]) != flvmux.TagHeaderSize+th.DataSize {
			t.Fatalf("message %d (%d bytes, header %+v, err %v) is not exactly one FLV tag", len(tags)+1, len(msg), th, err)
		}
		stream = append(stream, msg...)
		tags = append(tags, hxWSTag{typ: th.Type, ts: th.Timestamp, data: msg[flvmux.TagHeaderSize : len(msg)-4]})
		if th.Type == flvmux.TagVideo && th.Timestamp >= minVideoMS {
			break
		}
	}
	// The concatenation is a valid FLV stream with the same tags.
	var fr flvmux.Reader
	i := 0
	for p := stream; len(p) > 0; {
		k, tag, err := fr.Feed(p)
		if err != nil {
			t.Fatalf("flvmux.Reader on the concatenated messages: %v", err)
		}
		p = p[k:]
		if tag == nil {
			continue
		}
		if i >= len(tags) || tag.Type != tags[i].typ || tag.Timestamp != tags[i].ts || !bytes.Equal(tag.Data, tags[i].data) {
			t.Fatalf("flvmux.Reader tag %d differs from the message", i)
		}
		i++
	}
	if i != len(tags) {
		t.Fatalf("flvmux.Reader found %d tags in %d messages", i, len(tags))
	}
	return tags
}

// hxCheckStart checks that a play starts with onMetaData, the AVC and AAC
// sequence headers and a keyframe, near timestamp 0, and that each track's
// timestamps never go backwards.
func hxCheckStart(t *testing.T, tags []hxWSTag) {
	t.Helper()
	if len(tags) < 4 {
		t.Fatalf("only %d tags", len(tags))
	}
	if tags[0].typ != flvmux.TagScript || !bytes.Contains(tags[0].data[:min(len(tags[0].data), 16)], []byte("onMetaData")) {
		t.Errorf("tag 0: type %d, want the onMetaData script tag", tags[0].typ)
	}
	if tags[1].typ != flvmux.TagVideo || !flvmux.IsVideoSequenceHeader(tags[1].data) || tags[1].data[0]&0x0f != 7 {
		t.Errorf("tag 1: type %d % x, want the AVC sequence header", tags[1].typ, tags[1].data[:min(len(tags[1].data), 4)])
	}
	if tags[2].typ != flvmux.TagAudio || !flvmux.IsAudioSequenceHeader(tags[2].data) || tags[2].data[0]>>4 != 10 {
		t.Errorf("tag 2: type %d % x, want the AAC sequence header", tags[2].typ, tags[2].data[:min(len(tags[2].data), 4)])
	}
	if tags[3].typ != flvmux.TagVideo || !flvmux.IsVideoKeyframe(tags[3].data) || flvmux.IsVideoSequenceHeader(tags[3].data) {
		t.Errorf("tag 3: type %d % x, want a keyframe", tags[3].typ, tags[3].data[:min(len(tags[3].data), 4)])
	}
	if ts := tags[3].ts; ts > 100 {
		t.Errorf("first media timestamp %d ms, want near 0", ts)
	}
	last := map[uint8]uint32{}
	for i, tag := range tags[3:] {
		if prev, ok := last[tag.typ]; ok && tag.ts < prev {
			t.Fatalf("tag %d (type %d): timestamp %d after %d", i+3, tag.typ, tag.ts, prev)
		}
		last[tag.typ] = tag.ts
	}
	if last[flvmux.TagAudio] == 0 {
		t.Error("no audio after the headers")
	}
}

// hxProbe is the part of ffprobe's JSON output the tests read.
type hxProbe struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		NbReadFrames string `json:"nb_read_frames"`
		StartTime    string `json:"start_time"`
	} `json:"streams"`
	Format struct {
		StartTime string `json:"start_time"`
	} `json:"format"`
}

func hxParseProbe(t *testing.T, out []byte) hxProbe {
	t.Helper()
	var p hxProbe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	return p
}

// hxCheckCodecs checks for h264 320x240 and aac and returns the video and
// audio stream indexes.
func hxCheckCodecs(t *testing.T, p hxProbe) (v, a int) {
	t.Helper()
	v, a = -1, -1
	for i, s := range p.Streams {
		switch s.CodecType {
		case "video":
			v = i
			if s.CodecName != "h264" || s.Width != 320 || s.Height != 240 {
				t.Errorf("video stream: %s %dx%d, want h264 320x240", s.CodecName, s.Width, s.Height)
			}
		case "audio":
			a = i
			if s.CodecName != "aac" {
				t.Errorf("audio stream: %s, want aac", s.CodecName)
			}
		}
	}
	if v < 0 || a < 0 {
		t.Fatalf("streams %+v: want one video and one audio", p.Streams)
	}
	return v, a
}

// TestHTTPFLVWithFFmpeg publishes with ffmpeg and exercises every HTTP
// route of a live stream with real peers.
func TestHTTPFLVWithFFmpeg(t *testing.T) {
	ffmpeg, ffprobe := hxTools(t)
	ctx := hxContext(t)
	s := hxStart(t, server.Config{}, nil)
	hxPublish(t, ctx, s, ffmpeg, "hx")
	flvURL := "http://" + s.http + "/live/hx.flv"

	t.Run("ffprobe", func(t *testing.T) {
		out := hxRun(t, 20*time.Second, ffprobe, "-v", "error", "-rw_timeout", "5000000",
			"-show_entries", "stream=codec_type,codec_name,width,height", "-of", "json", flvURL)
		hxCheckCodecs(t, hxParseProbe(t, out))
	})

	t.Run("ffmpeg capture and decode", func(t *testing.T) {
		dir := t.TempDir()
		capture := filepath.Join(dir, "capture.flv")
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // decode to null at the same time: a second concurrent reader
			defer wg.Done()
			if _, err := hxRunErr(t, 20*time.Second, ffmpeg, "-hide_banner", "-v", "error", "-nostdin",
				"-rw_timeout", "5000000", "-i", flvURL, "-t", "3", "-f", "null", "-"); err != nil {
				t.Errorf("decode: %v", err)
			}
		}()
		hxRun(t, 20*time.Second, ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-rw_timeout", "5000000",
			"-i", flvURL, "-t", "3", "-c", "copy", "-y", capture)
		wg.Wait()
		out := hxRun(t, 30*time.Second, ffprobe, "-v", "error", "-count_frames",
			"-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames,start_time:format=start_time",
			"-of", "json", capture)
		p := hxParseProbe(t, out)
		v, a := hxCheckCodecs(t, p)
		if n, _ := strconv.Atoi(p.Streams[v].NbReadFrames); n <= 50 {
			t.Errorf("%d video frames decoded from a 3 s capture, want > 50", n)
		}
		if n, _ := strconv.Atoi(p.Streams[a].NbReadFrames); n == 0 {
			t.Error("no audio frames decoded")
		}
		if st, err := strconv.ParseFloat(p.Format.StartTime, 64); err != nil || st > 0.2 {
			t.Errorf("start_time %q, want near 0", p.Format.StartTime)
		}
		t.Logf("3 s capture: %s video frames, %s audio frames, start_time %s",
			p.Streams[v].NbReadFrames, p.Streams[a].NbReadFrames, p.Format.StartTime)
	})

	for _, path := range []string{"/live/hx.flv", "/live/hx"} {
		t.Run("ws-flv "+path, func(t *testing.T) {
			c, err := hxDialWS(ctx, "ws://"+s.http+path, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if got := c.header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("101 response: Access-Control-Allow-Origin %q", got)
			}
			tags := hxReadWSFLV(t, c, 2000)
			hxCheckStart(t, tags)
			t.Logf("%d tags in %d messages; first four: type/ts %d/%d %d/%d %d/%d %d/%d", len(tags), len(tags)+1,
				tags[0].typ, tags[0].ts, tags[1].typ, tags[1].ts, tags[2].typ, tags[2].ts, tags[3].typ, tags[3].ts)

			ping := []byte("hx-ping-0123456789")
			if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewPingFrame(ping))); err != nil {
				t.Fatal(err)
			}
			pong, err := c.hxUntil(ws.OpPong)
			if err != nil || !bytes.Equal(pong, ping) {
				t.Fatalf("pong %q, err %v; want %q", pong, err, ping)
			}
			// A 125-byte ping after a small data frame the server ignores,
			// written in pieces so the server assembles headers and payloads
			// across reads. (Data frames over 125 bytes: TestWSFLVClientDataFrames.)
			var frames bytes.Buffer
			_ = ws.WriteFrame(&frames, ws.MaskFrame(ws.NewBinaryFrame(bytes.Repeat([]byte("d"), 100))))
			big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 4)[:ws.MaxControlFramePayloadSize]
			_ = ws.WriteFrame(&frames, ws.MaskFrame(ws.NewPingFrame(big)))
			for _, piece := range hxPieces(frames.Bytes(), 1, 3, 50, 107, 109, 111, 150) {
				if _, err := c.Write(piece); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if pong, err := c.hxUntil(ws.OpPong); err != nil || !bytes.Equal(pong, big) {
				t.Fatalf("pong to a split 125-byte ping: %d bytes, err %v", len(pong), err)
			}

			body := ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")
			if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(body))); err != nil {
				t.Fatal(err)
			}
			reply, err := c.hxUntil(ws.OpClose)
			if err != nil {
				t.Fatalf("no close reply: %v", err)
			}
			if code, _ := ws.ParseCloseFrameData(reply); code != ws.StatusNormalClosure {
				t.Errorf("close reply code %d, want 1000", code)
			}
			if _, _, err := c.hxReadFrame(); !errors.Is(err, io.EOF) && !hxIsReset(err) {
				t.Errorf("after the close handshake: %v, want the connection closed", err)
			}
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		r := hxRequest(t, s.http, "HEAD /live/hx.flv HTTP/1.1\r\nHost: x\r\n\r\n")
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "video/x-flv" || len(r.body) != 0 || !r.closed {
			t.Errorf("HEAD: status %d type %q, %d body bytes, closed %v", r.StatusCode, r.Header.Get("Content-Type"), len(r.body), r.closed)
		}
	})

	t.Run("api streams and metrics", func(t *testing.T) {
		reader := hxStartFLVReader(t, s.http, "/live/hx.flv")
		reader.hxAdvancing(t, "metrics", 10<<10)
		r := hxRequest(t, s.http, "GET /api/streams HTTP/1.1\r\nHost: x\r\n\r\n")
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("/api/streams: status %d, type %q", r.StatusCode, r.Header.Get("Content-Type"))
		}
		var list []server.StreamInfo
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatalf("/api/streams %q: %v", r.body, err)
		}
		found := false
		for _, st := range list {
			if st.App == "live" && st.Name == "hx" {
				found = true
				if !st.Publishing || st.Subscribers < 1 {
					t.Errorf("live/hx listed as %+v, want publishing with a subscriber", st)
				}
			}
		}
		if !found {
			t.Errorf("/api/streams %s does not list live/hx", r.body)
		}

		m := hxRequest(t, s.admin, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if m.StatusCode != 200 || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics: status %d, type %q", m.StatusCode, m.Header.Get("Content-Type"))
		}
		v, ok := hxMetric(string(m.body), "quaver_bytes_out_total")
		if !ok || v <= 0 {
			t.Errorf("/metrics has quaver_bytes_out_total %v (found %v):\n%s", v, ok, m.body)
		}
		if v, ok := hxMetric(string(m.body), "quaver_streams_publishing"); !ok || v < 1 {
			t.Errorf("quaver_streams_publishing %v (found %v)", v, ok)
		}
	})

	t.Run("malformed requests do not disturb a reader", func(t *testing.T) {
		reader := hxStartFLVReader(t, s.http, "/live/hx.flv")
		reader.hxAdvancing(t, "start", 10<<10)
		hxMalformed(t, s, reader)
	})
}

// hxPieces cuts b at the given offsets.
func hxPieces(b []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, b[prev:c])
		prev = c
	}
	return append(out, b[prev:])
}

// hxMetric returns the value of a sample line "name value".
func hxMetric(text, name string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// hxMalformed sends bad requests; with reader set, each one must leave the
// reader receiving. live/hx must be on air when reader is set.
func hxMalformed(t *testing.T, s *hxServer, reader *hxFLVReader) {
	after := func(what string) {
		if reader != nil {
			reader.hxAdvancing(t, what, 4<<10)
		}
	}
	big := "GET /live/hx.flv HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 10<<10) + "\r\n\r\n"
	for _, c := range []struct {
		name   string
		raw    string
		status int
		bug    string
		noCORS bool // a WebSocket handshake rejection: CORS does not apply
	}{
		{name: "10 KiB head", raw: big, status: 431},
		{name: "head one byte over the limit", raw: "GET /live/hx.flv HTTP/1.1\r\nX-Pad: " +
			strings.Repeat("p", wsflv.MaxRequestHeadSize+1-len("GET /live/hx.flv HTTP/1.1\r\nX-Pad: \r\n\r\n")) + "\r\n\r\n",
			status: 431, bug: "a head of MaxRequestHeadSize+1..+4 bytes (or one whose first read is) gets 400, not 431: " +
				"httpSession.OnData sends 431 only when len(head)+len(p) > MaxRequestHeadSize+4 and maps " +
				"wsflv.ErrHeaderTooLarge from ReadRequest to 400"},
		{name: "garbage request line", raw: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1 hello\r\n\r\n", status: 400},
		{name: "no protocol", raw: "GET /live/hx.flv\r\n\r\n", status: 400},
		{name: "POST", raw: "POST /live/hx.flv HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", status: 405},
		{name: "WebSocket version 8", raw: "GET /live/hx HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", status: 426, noCORS: true},
		{name: "PUT", raw: "PUT /api/streams HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", status: 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := hxRequest(t, s.http, c.raw)
			if r.StatusCode != c.status {
				if c.bug != "" {
					t.Fatalf("%s (got %d)", c.bug, r.StatusCode)
				}
				t.Errorf("status %d (%q), want %d", r.StatusCode, r.body, c.status)
			}
			if !r.closed {
				t.Error("connection not closed after the error response")
			}
			if !c.noCORS && r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Error("error response without Access-Control-Allow-Origin: *")
			}
			after(c.name)
		})
	}
	t.Run("unmasked WebSocket frame", func(t *testing.T) {
		if reader == nil {
			t.Skip("needs a live stream (ffmpeg)")
		}
		c, err := hxDialWS(context.Background(), "ws://"+s.http+"/live/hx", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
		if _, _, err := wsutil.ReadServerData(c); err != nil { // the FLV header
			t.Fatal(err)
		}
		if _, err := c.Write([]byte{0x82, 0x02, 'h', 'i'}); err != nil {
			t.Fatal(err)
		}
		p, err := c.hxUntil(ws.OpClose)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if code, reason := ws.ParseCloseFrameData(p); code != ws.StatusProtocolError {
			t.Errorf("close %d %q, want 1002", code, reason)
		}
		_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
		if _, err := io.Copy(io.Discard, c); err != nil && !hxIsReset(err) {
			t.Errorf("connection not closed after 1002: %v", err)
		}
		after("unmasked frame")
	})
}

// TestHTTPMalformedNoStream checks the error responses without a publisher.
func TestHTTPMalformedNoStream(t *testing.T) {
	for _, transport := range hxTransports {
		t.Run(transport, func(t *testing.T) {
			s := hxStart(t, server.Config{Transport: transport}, nil)
			hxSkipIfResponsesLost(t, s)
			hxMalformed(t, s, nil)
			if r := hxRequest(t, s.http, "GET /healthz HTTP/1.1\r\n\r\n"); r.StatusCode != 200 {
				t.Errorf("/healthz after bad requests: %d", r.StatusCode)
			}
		})
	}
}

// hxTransports are the server's transports; the HTTP side runs on both.
var hxTransports = []string{"gnet", "std"}

// hxSkipIfResponsesLost skips the test when a complete response written just
// before the server closes the connection never reaches the client.
// It probes a few times: the loss is a race the server nearly always loses.
func hxSkipIfResponsesLost(t *testing.T, s *hxServer) {
	t.Helper()
	for range 5 {
		c, err := net.DialTimeout("tcp", s.http, hxIOTimeout)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(hxIOTimeout))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		_ = c.Close()
		if len(b) == 0 {
			t.Fatalf("%s transport: /healthz got no response bytes before the close (%v); netpoll.stdConn.Close "+
				"closes the socket at once and drops what Write queued for writeLoop, so every reply-then-close is lost",
				s.Config().Transport, err)
		}
	}
}

// hxRejecter refuses every play with reason.
type hxRejecter struct {
	server.BaseHandler
	reason string
}

func (h hxRejecter) OnPlay(*server.Session, *server.StreamRequest) error {
	return server.Reject("%s", h.reason)
}

// TestHTTPPlayErrors covers not-live streams, rejected plays, CORS and the
// simple routes without a publisher.
func TestHTTPPlayErrors(t *testing.T) {
	for _, transport := range hxTransports {
		t.Run(transport, func(t *testing.T) { hxPlayErrors(t, transport) })
	}
}

func hxPlayErrors(t *testing.T, transport string) {
	ctx := hxContext(t)
	longReason := strings.Repeat("é", 100) // 200 bytes: more than a close frame holds
	s := hxStart(t, server.Config{Transport: transport}, map[string]*server.App{
		"sec":  {Handler: hxRejecter{reason: "nope"}},
		"long": {Handler: hxRejecter{reason: longReason}},
	})
	hxSkipIfResponsesLost(t, s)

	t.Run("not live over HTTP", func(t *testing.T) {
		for _, path := range []string{"/live/nosuch.flv", "/nosuchapp/x.flv", "/live/"} {
			r := hxRequest(t, s.http, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if r.StatusCode != 404 || !r.closed || r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s: status %d, closed %v, ACAO %q", path, r.StatusCode, r.closed, r.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	})
	t.Run("not live over WebSocket", func(t *testing.T) {
		for _, path := range []string{"/live/nosuch", "/live/nosuch.flv"} {
			ce := hxCloseOf(t, ctx, "ws://"+s.http+path)
			if ce.Code != wsflv.CloseNotFound || ce.Reason == "" {
				t.Errorf("%s: close %d %q, want 4404 with a reason", path, ce.Code, ce.Reason)
			}
		}
	})
	t.Run("rejected over HTTP", func(t *testing.T) {
		r := hxRequest(t, s.http, "GET /sec/x.flv?token=bad HTTP/1.1\r\nHost: x\r\n\r\n")
		if r.StatusCode != 403 || !strings.Contains(string(r.body), "nope") {
			t.Errorf("status %d body %q, want 403 nope", r.StatusCode, r.body)
		}
	})
	t.Run("rejected over WebSocket", func(t *testing.T) {
		ce := hxCloseOf(t, ctx, "ws://"+s.http+"/sec/x")
		if ce.Code != ws.StatusPolicyViolation || ce.Reason != "nope" {
			t.Errorf("close %d %q, want 1008 nope", ce.Code, ce.Reason)
		}
	})
	t.Run("rejected over WebSocket with a long reason", func(t *testing.T) {
		c, err := hxDialWS(ctx, "ws://"+s.http+"/long/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p, err := c.hxUntil(ws.OpClose)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		code, reason := ws.ParseCloseFrameData(p)
		if code != ws.StatusPolicyViolation || len(p) > ws.MaxControlFramePayloadSize || !strings.HasPrefix(longReason, reason) {
			t.Fatalf("close %d %q (%d bytes), want 1008 with a prefix of the reason", code, reason, len(p))
		}
		if !utf8.ValidString(reason) {
			t.Fatalf("the close reason is cut at %d bytes inside a UTF-8 sequence (wsflv.AppendClose); "+
				"browsers fail such a connection with 1006 and lose code and reason (RFC 6455 section 8.1)", len(reason))
		}
	})
	t.Run("head split across writes", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.http, hxIOTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(hxIOTimeout))
		for _, piece := range []string{"GET /hea", "lthz HTTP/1.1\r", "\nHost: x\r\n", "\r", "\n"} {
			if _, err := io.WriteString(conn, piece); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("split head: %v %v", resp, err)
		}
	})
	t.Run("CORS preflight", func(t *testing.T) {
		r := hxRequest(t, s.http, "OPTIONS /live/x.flv HTTP/1.1\r\nHost: x\r\nOrigin: http://example.com\r\n"+
			"Access-Control-Request-Method: GET\r\n\r\n")
		if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("OPTIONS: status %d, ACAO %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
		if !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("OPTIONS: Access-Control-Allow-Methods %q", r.Header.Get("Access-Control-Allow-Methods"))
		}
	})
	t.Run("simple routes", func(t *testing.T) {
		for _, c := range []struct {
			path, ctype string
		}{{"/healthz", "text/plain"}, {"/", "text/html"}, {"/api/streams", "application/json"}} {
			r := hxRequest(t, s.http, "GET "+c.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), c.ctype) ||
				r.Header.Get("Access-Control-Allow-Origin") != "*" || !r.closed {
				t.Errorf("%s: status %d type %q ACAO %q closed %v", c.path, r.StatusCode,
					r.Header.Get("Content-Type"), r.Header.Get("Access-Control-Allow-Origin"), r.closed)
			}
		}
		// Metrics are on the admin listener only.
		if r := hxRequest(t, s.http, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); r.StatusCode != 404 {
			t.Errorf("/metrics on the public port: status %d, want 404", r.StatusCode)
		}
	})
}

// TestWSFLVSlowClient connects a WebSocket player that never reads and
// checks that the server bounds it (skip or disconnect) while a normal
// HTTP-FLV player keeps the published rate and the heap stays bounded.
func TestWSFLVSlowClient(t *testing.T) {
	ffmpeg, _ := hxTools(t)
	ctx := hxContext(t)
	// A player that never reads stays above LowWater; StallTimeout (15 s by
	// default) is what drops it, so it is shortened to fit the test.
	s := hxStart(t, server.Config{Fanout: fanout.Config{HighWater: 256 << 10, HardCap: 2 << 20, StallTimeout: 5 * time.Second}}, nil)
	hxPublish(t, ctx, s, ffmpeg, "slow")

	// The first healthy reader: its rate before the slow client is the reference.
	a := hxStartFLVReader(t, s.http, "/live/slow.flv")
	time.Sleep(2 * time.Second) // past the GOP cache burst
	rateA0 := hxRate(a, 3*time.Second)
	if rateA0 <= 0 {
		t.Fatalf("healthy reader got nothing (err %v)", a.Err())
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapInuse
	before := s.Stats().Fanout

	// The slow client: a tiny receive buffer and no reads after the handshake.
	// Both options are set before connect: SO_RCVBUF keeps the window
	// closed, and the small MSS the SYN announces keeps the server's
	// autotuned send buffer small. With loopback's 64 KiB MSS, Linux gives
	// the server socket a send buffer of tcp_wmem[2] (4 MiB) at once, which
	// at this stream's ~110 KB/s hides the client from the fanout watermarks
	// for about 30 s: the server cannot cap SO_SNDBUF (see the report).
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = errors.Join(
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10),
				syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536))
		}); err != nil {
			return err
		}
		return serr
	}}
	slow, err := hxDialWS(ctx, "ws://"+s.http+"/live/slow", d.DialContext)
	if err != nil {
		t.Fatalf("slow client: %v", err)
	}
	defer slow.Close()
	slowStart := time.Now()

	b := hxStartFLVReader(t, s.http, "/live/slow.flv")
	var maxHeap atomic.Uint64
	stopHeap := make(chan struct{})
	heapDone := make(chan struct{})
	go func() {
		defer close(heapDone)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > maxHeap.Load() {
				maxHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stopHeap:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	time.Sleep(time.Second) // B past its GOP cache burst
	// One 5 s window while the slow client is stuck: both readers against
	// what the publisher sent in the same window (the publisher's own rate
	// varies with the content and with CPU contention on a shared machine).
	var rateA1, rateB, rateIn float64
	{
		a0, b0, in0, t0 := a.bytes.Load(), b.bytes.Load(), s.Stats().Fanout.BytesIn, time.Now()
		time.Sleep(5 * time.Second)
		d := time.Since(t0).Seconds()
		rateA1, rateB = float64(a.bytes.Load()-a0)/d, float64(b.bytes.Load()-b0)/d
		rateIn = float64(s.Stats().Fanout.BytesIn-in0) / d
	}

	bounded := waitFor(20*time.Second, func() bool {
		st := s.Stats().Fanout
		return st.Skips > before.Skips || st.SlowDisconnects > before.SlowDisconnects
	})
	elapsed := time.Since(slowStart)
	close(stopHeap)
	<-heapDone
	after := s.Stats().Fanout
	t.Logf("rates: A before %.0f B/s; during: published %.0f B/s, A %.0f B/s, B %.0f B/s; slow client bounded=%v after %v "+
		"(skips %d, slow disconnects %d); heap in use %d -> max %d KiB",
		rateA0, rateIn, rateA1, rateB, bounded, elapsed.Round(100*time.Millisecond), after.Skips-before.Skips,
		after.SlowDisconnects-before.SlowDisconnects, heap0>>10, maxHeap.Load()>>10)

	if !bounded {
		t.Errorf("slow WebSocket client neither skipped nor was disconnected within %v", elapsed.Round(time.Second))
	}
	if after.SlowDisconnects > before.SlowDisconnects {
		// What the kernel still holds drains, then the connection ends.
		_ = slow.SetReadDeadline(time.Now().Add(hxIOTimeout))
		n, err := io.Copy(io.Discard, slow)
		if err != nil && !hxIsReset(err) {
			t.Errorf("dropped slow client: read %d bytes then %v, want the connection closed", n, err)
		}
	}
	for _, r := range []struct {
		what      string
		rate, ref float64
		refWhat   string
	}{
		{"first reader during the slow client", rateA1, rateIn, "the published rate"},
		{"second reader", rateB, rateA1, "the first reader's rate"},
	} {
		if r.rate < 0.8*r.ref || r.rate > 1.2*r.ref {
			t.Errorf("%s: %.0f B/s, not within 20%% of %s, %.0f B/s", r.what, r.rate, r.refWhat, r.ref)
		}
	}
	if err := a.Err(); err != nil {
		t.Errorf("first reader: %v", err)
	}
	if err := b.Err(); err != nil {
		t.Errorf("second reader: %v", err)
	}
	if m := maxHeap.Load(); m > heap0 && m-heap0 > 64<<20 {
		t.Errorf("heap in use grew by %d MiB", (m-heap0)>>20)
	}
}

// hxRate measures a reader's byte rate over d.
func hxRate(r *hxFLVReader, d time.Duration) float64 {
	b0, t0 := r.bytes.Load(), time.Now()
	time.Sleep(d)
	return float64(r.bytes.Load()-b0) / time.Since(t0).Seconds()
}

// TestHTTPHeadTimeout checks that a connection that never completes its
// request head is closed after HandshakeTimeout.
func TestHTTPHeadTimeout(t *testing.T) {
	s := hxStart(t, server.Config{HandshakeTimeout: 300 * time.Millisecond}, nil)
	c, err := net.DialTimeout("tcp", s.http, hxIOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /live/x.flv HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
	b, err := io.ReadAll(c)
	if err != nil && !hxIsReset(err) {
		t.Fatalf("incomplete head not closed within %v: %v", hxIOTimeout, err)
	}
	t.Logf("closed after an incomplete head; %d response bytes %q", len(b), b)
}

// hxDataChildEnv marks the child process of TestWSFLVClientDataFrames.
const hxDataChildEnv = "QUAVER_HX_WS_DATA_CHILD"

// TestWSFLVClientDataFrames sends a playing WebSocket client's data frames
// of every allowed size (a player has nothing to say, but the protocol lets
// it speak): the server must ignore them and keep answering pings, and close
// with 1002 past MaxClientFrame. It runs in a child process so that a server
// panic is reported instead of killing the test binary.
func TestWSFLVClientDataFrames(t *testing.T) {
	if os.Getenv(hxDataChildEnv) == "1" {
		hxDataFramesChild(t)
		return
	}
	hxTools(t)
	ctx := hxContext(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestWSFLVClientDataFrames$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), hxDataChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Logf("child:\n%s", hxTail(out, 12))
		return
	}
	if i := bytes.Index(out, []byte("panic: ")); i >= 0 {
		t.Fatalf("a WebSocket data frame of more than 125 bytes panics the event loop and kills the process "+
			"(httpSession.wsFrames slices payload := h.ctrl[:h.frame.Length] for every opcode; h.ctrl holds 125 bytes):\n%s",
			hxTail(out[i:], 8))
	}
	t.Fatalf("child: %v\n%s", err, hxTail(out, 40))
}

// hxTail returns the first n lines of b.
func hxTail(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func hxDataFramesChild(t *testing.T) {
	ffmpeg, _ := hxTools(t)
	ctx := hxContext(t)
	s := hxStart(t, server.Config{}, nil)
	hxPublish(t, ctx, s, ffmpeg, "data")
	c, err := hxDialWS(ctx, "ws://"+s.http+"/live/data", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(hxIOTimeout))
	if _, _, err := wsutil.ReadServerData(c); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 125, 126, 1000, wsflv.MaxClientFrame} {
		var b bytes.Buffer
		_ = ws.WriteFrame(&b, ws.MaskFrame(ws.NewBinaryFrame(bytes.Repeat([]byte{'d'}, size))))
		_ = ws.WriteFrame(&b, ws.MaskFrame(ws.NewTextFrame(bytes.Repeat([]byte{'t'}, size))))
		ping := []byte("after " + strconv.Itoa(size))
		_ = ws.WriteFrame(&b, ws.MaskFrame(ws.NewPingFrame(ping)))
		if _, err := c.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
		if pong, err := c.hxUntil(ws.OpPong); err != nil || !bytes.Equal(pong, ping) {
			t.Fatalf("data frames of %d bytes: pong %q, err %v", size, pong, err)
		}
	}
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewBinaryFrame(make([]byte, wsflv.MaxClientFrame+1)))); err != nil {
		t.Fatal(err)
	}
	p, err := c.hxUntil(ws.OpClose)
	if err != nil {
		t.Fatalf("frame over MaxClientFrame: no close: %v", err)
	}
	if code, reason := ws.ParseCloseFrameData(p); code != ws.StatusProtocolError && code != ws.StatusMessageTooBig {
		t.Errorf("frame over MaxClientFrame: close %d %q, want 1002 or 1009", code, reason)
	}
}

// TestHTTPFLVStdTransport plays an ffmpeg-published stream over HTTP-FLV and
// WS-FLV on the standard-library transport.
func TestHTTPFLVStdTransport(t *testing.T) {
	ffmpeg, _ := hxTools(t)
	ctx := hxContext(t)
	s := hxStart(t, server.Config{Transport: "std"}, nil)
	hxPublish(t, ctx, s, ffmpeg, "std")
	reader := hxStartFLVReader(t, s.http, "/live/std.flv")
	reader.hxAdvancing(t, "std HTTP-FLV", 64<<10)
	c, err := hxDialWS(ctx, "ws://"+s.http+"/live/std", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	hxCheckStart(t, hxReadWSFLV(t, c, 1000))
	ping := []byte("std")
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewPingFrame(ping))); err != nil {
		t.Fatal(err)
	}
	if pong, err := c.hxUntil(ws.OpPong); err != nil || !bytes.Equal(pong, ping) {
		t.Fatalf("pong %q, err %v", pong, err)
	}
	reader.hxAdvancing(t, "std HTTP-FLV after the WS play", 16<<10)
}
