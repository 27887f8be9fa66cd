package server_test

// End-to-end tests with real peers: ffmpeg and ffprobe as publishers and
// players, and the client package for checks ffmpeg cannot make (first
// message of a late joiner, byte-for-byte Enhanced RTMP payloads, status
// codes). Every test runs its own server on 127.0.0.1 with an OS-chosen port
// and is bounded by contexts and process timeouts.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
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

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/mediainfo"
	"github.com/quaverlive/quaver/server"
)

// decodeErrorWords are words that mark a decode problem in ffmpeg's stderr.
var decodeErrorWords = []string{"error", "decode", "corrupt", "invalid", "missing", "non-existing", "concealing", "no frame"}

// checkCleanStderr fails the test if ffmpeg's stderr (run with -loglevel
// error) reports any decode problem.
func checkCleanStderr(t *testing.T, who, stderr string) {
	t.Helper()
	low := strings.ToLower(stderr)
	for _, w := range decodeErrorWords {
		if strings.Contains(low, w) {
			t.Errorf("%s reported %q:\n%s", who, w, stderr)
			return
		}
	}
}

// TestE2EFFmpegPublishTwoPlayers publishes a live H.264+AAC encoding with
// ffmpeg and reads it with two concurrent ffmpeg players: one decodes, one
// copies to FLV, which ffprobe then inspects.
func TestE2EFFmpegPublishTwoPlayers(t *testing.T) {
	t.Parallel()
	ffmpeg, ffprobe := requireFFmpeg(t)
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, nil)

	args := ffmpegArgs("-re")
	args = append(args, lavfiInputs...)
	args = append(args, h264Output...)
	args = append(args, "-t", "10", "-f", "flv", ts.url("live/a"))
	pub := startProc(t, ctx, ffmpeg, args...)
	if !waitFor(publishWait, func() bool { return ts.publishing("live", "a") }) {
		pub.kill()
		t.Fatalf("ffmpeg did not start publishing:\n%s", pub.stderr.String())
	}

	out := filepath.Join(t.TempDir(), "copy.flv")
	decode := startProc(t, ctx, ffmpeg, ffmpegArgs("-i", ts.url("live/a"), "-t", "3", "-f", "null", "-")...)
	copier := startProc(t, ctx, ffmpeg, ffmpegArgs("-i", ts.url("live/a"), "-t", "4", "-c", "copy", "-f", "flv", out)...)
	for _, p := range []struct {
		name string
		p    *proc
	}{{"decoding player", decode}, {"copying player", copier}} {
		if !p.p.wait(15 * time.Second) {
			t.Fatalf("%s still running after 15 s", p.name)
		}
		if p.p.err != nil {
			t.Fatalf("%s: %v\n%s", p.name, p.p.err, p.p.stderr.String())
		}
		checkCleanStderr(t, p.name, p.p.stderr.String())
		t.Logf("%s took %v", p.name, p.p.took.Round(time.Millisecond))
	}
	pub.kill()

	streams := runProc(t, 10*time.Second, ffprobe, "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
		"-of", "compact=p=0:nk=0", out)
	if !strings.Contains(streams, "codec_name=h264|codec_type=video|width=320|height=240") ||
		!strings.Contains(streams, "codec_name=aac|codec_type=audio") {
		t.Fatalf("ffprobe streams of the copy:\n%s", streams)
	}
	frames := runProc(t, 10*time.Second, ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "default=nk=1:nw=1", out)
	n, err := strconv.Atoi(strings.TrimSpace(frames))
	if err != nil || n <= 50 {
		t.Fatalf("ffprobe counted %q video frames in the copy, want > 50", frames)
	}
	t.Logf("copy holds %d decodable video frames", n)
}

// TestE2ELateJoinerStartsAtKeyframe joins a stream about 3.5 s in (mid-GOP):
// ffmpeg decodes the first frame cleanly, and a client sees the video
// sequence header and then a keyframe as its first video messages.
func TestE2ELateJoinerStartsAtKeyframe(t *testing.T) {
	t.Parallel()
	ffmpeg, _ := requireFFmpeg(t)
	ctx := testContext(t)
	tags := readFLVTags(t, genFLV(t, ffmpeg, 4))
	ts := startServer(t, server.Config{}, nil)

	pub := publisher(t, ctx, ts, "live", "late", client.Config{})
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = publishTags(pctx, pub, tags, 0)
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
	time.Sleep(3500 * time.Millisecond)

	png := filepath.Join(t.TempDir(), "first.png")
	first := startProc(t, ctx, ffmpeg, ffmpegArgs("-i", ts.url("live/late"), "-frames:v", "1", "-f", "image2", "-update", "1", png)...)
	c := player(t, ctx, ts, "live", "late", client.Config{})
	msgs, err := readMessages(c, 5*time.Second, func(r *received) bool {
		return r.typ == chunkcodec.TypeVideo && !flvmux.IsVideoSequenceHeader(r.payload)
	})
	if err != nil {
		t.Fatalf("reading the late join: %v", err)
	}
	var video []received
	for _, m := range msgs {
		if m.typ == chunkcodec.TypeVideo {
			video = append(video, m)
		}
	}
	if len(video) != 2 || !flvmux.IsVideoSequenceHeader(video[0].payload) || !flvmux.IsVideoKeyframe(video[1].payload) {
		t.Fatalf("first video messages of a late joiner: %d, want a sequence header then a keyframe", len(video))
	}
	if !first.wait(15 * time.Second) {
		t.Fatal("ffmpeg did not decode a first frame within 15 s")
	}
	if first.err != nil {
		t.Fatalf("ffmpeg first frame: %v\n%s", first.err, first.stderr.String())
	}
	checkCleanStderr(t, "ffmpeg first frame", first.stderr.String())
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("first.png: %v", err)
	}
}

// TestE2EPublisherDisconnectEndsPlayers lets an ffmpeg publisher finish: a
// client player gets NetStream.Play.UnpublishNotify and Stream EOF, and an
// ffmpeg player exits cleanly.
func TestE2EPublisherDisconnectEndsPlayers(t *testing.T) {
	t.Parallel()
	ffmpeg, _ := requireFFmpeg(t)
	ctx := testContext(t)
	media := genFLV(t, ffmpeg, 4)
	ts := startServer(t, server.Config{}, nil)

	pub := startProc(t, ctx, ffmpeg, ffmpegArgs("-re", "-i", media, "-c", "copy", "-f", "flv", ts.url("live/end"))...)
	if !waitFor(publishWait, func() bool { return ts.publishing("live", "end") }) {
		pub.kill()
		t.Fatalf("ffmpeg did not start publishing:\n%s", pub.stderr.String())
	}
	ffplayer := startProc(t, ctx, ffmpeg, ffmpegArgs("-i", ts.url("live/end"), "-f", "null", "-")...)
	c := player(t, ctx, ts, "live", "end", client.Config{})

	msgs, err := readMessages(c, 15*time.Second, func(r *received) bool { return r.event == int(chunkcodec.EventStreamEOF) })
	if err != nil {
		t.Fatalf("player did not get Stream EOF: %v (after %d messages)", err, len(msgs))
	}
	ended := time.Now()
	nmedia, notify := 0, -1
	for i, m := range msgs {
		switch {
		case m.typ == chunkcodec.TypeVideo || m.typ == chunkcodec.TypeAudio:
			nmedia++
			if notify >= 0 {
				t.Fatalf("media after UnpublishNotify")
			}
		case m.code == client.CodeUnpublishNotify:
			notify = i
		}
	}
	if nmedia == 0 || notify < 0 || notify != len(msgs)-2 {
		t.Fatalf("player got %d media messages, UnpublishNotify at %d of %d; want media, UnpublishNotify, Stream EOF", nmedia, notify, len(msgs))
	}
	if !pub.wait(5 * time.Second) {
		t.Fatal("ffmpeg publisher still running")
	}
	if pub.err != nil {
		t.Fatalf("ffmpeg publisher: %v\n%s", pub.err, pub.stderr.String())
	}
	if !ffplayer.wait(5 * time.Second) {
		t.Fatal("ffmpeg player still running 5 s after the publisher left")
	}
	if ffplayer.err != nil {
		t.Fatalf("ffmpeg player: %v\n%s", ffplayer.err, ffplayer.stderr.String())
	}
	checkCleanStderr(t, "ffmpeg player", ffplayer.stderr.String())
	t.Logf("ffmpeg player exited %v after the client saw Stream EOF", time.Since(ended).Round(time.Millisecond))
}

// TestE2ERepublishContinues stops publisher A and starts publisher B on the
// same name after the republish grace, once the player has had the end of
// A's stream: the same player keeps its connection and B's media continues
// with timestamps that do not go backwards. (Within the grace the player
// hears nothing between the two: republish_e2e_test.go.)
func TestE2ERepublishContinues(t *testing.T) {
	t.Parallel()
	ffmpeg, _ := requireFFmpeg(t)
	ctx := testContext(t)
	tags := readFLVTags(t, genFLV(t, ffmpeg, 2))
	ts := startServer(t, server.Config{}, nil)

	a := publisher(t, ctx, ts, "live", "re", client.Config{})
	c := player(t, ctx, ts, "live", "re", client.Config{})
	isNotify := func(r *received) bool { return r.code == client.CodeUnpublishNotify }
	if _, err := publishTags(ctx, a, tags, 1); err != nil {
		t.Fatalf("publisher A: %v", err)
	}
	_ = a.Close()
	first, err := readMessages(c, 10*time.Second, isNotify)
	if err != nil {
		t.Fatalf("player during A: %v", err)
	}
	b := publisher(t, ctx, ts, "live", "re", client.Config{})
	bVideos, err := publishTags(ctx, b, tags, 1)
	if err != nil {
		t.Fatalf("publisher B: %v", err)
	}
	_ = b.Close()
	second, err := readMessages(c, 10*time.Second, isNotify)
	if err != nil {
		t.Fatalf("player during B (connection lost?): %v", err)
	}

	// Timestamps never go backwards, per kind, across both publishers.
	last := map[uint8]uint32{}
	var lastA uint32
	for i, m := range append(append([]received(nil), first...), second...) {
		if m.typ != chunkcodec.TypeVideo && m.typ != chunkcodec.TypeAudio {
			continue
		}
		if p, ok := last[m.typ]; ok && m.ts < p {
			t.Fatalf("message %d (type %d): timestamp %d after %d", i, m.typ, m.ts, p)
		}
		last[m.typ] = m.ts
		if i < len(first) {
			lastA = max(lastA, m.ts)
		}
	}
	var videos []received
	published := false
	for _, m := range second {
		if m.code == client.CodePublishNotify {
			published = true
		}
		if m.typ == chunkcodec.TypeVideo {
			videos = append(videos, m)
		}
	}
	if !published {
		t.Error("player did not get NetStream.Play.PublishNotify for B")
	}
	if len(videos) != bVideos {
		t.Fatalf("player got %d of B's %d video messages", len(videos), bVideos)
	}
	if !flvmux.IsVideoSequenceHeader(videos[0].payload) || !flvmux.IsVideoKeyframe(videos[1].payload) {
		t.Fatal("B's media does not start with a sequence header and a keyframe")
	}
	if videos[0].ts < lastA {
		t.Fatalf("B starts at %d, before A's last timestamp %d", videos[0].ts, lastA)
	}
	t.Logf("A ended at %d ms; B continued from %d ms", lastA, videos[0].ts)
}

// TestE2ESlowPlayerIsolated attaches a player that never reads (small receive
// buffer) next to a normal one, with small fanout watermarks: the publisher
// never blocks, the normal player gets (almost) everything, the slow one is
// skipped or dropped, and the Go heap stays bounded.
//
// It does not run in parallel: its throughput checks need the CPU.
func TestE2ESlowPlayerIsolated(t *testing.T) {
	const (
		fps       = 25
		frameSize = 60 << 10 // 1.5 MB/s
		publish   = 5 * time.Second
	)
	ctx := testContext(t)
	ts := startServer(t, server.Config{Fanout: fanout.Config{
		HighWater:    256 << 10,
		HardCap:      2 << 20,
		StallTimeout: 2 * time.Second,
	}}, nil)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap := ms.HeapInuse

	pub := publisher(t, ctx, ts, "live", "slow", client.Config{})
	normal := player(t, ctx, ts, "live", "slow", client.Config{})
	slowCfg := client.Config{Dialer: &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}}
	_ = player(t, ctx, ts, "live", "slow", slowCfg) // never read again

	var got atomic.Int64
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			m, err := normal.ReadMessage()
			if err != nil {
				return
			}
			if m.TypeID == chunkcodec.TypeVideo && !flvmux.IsVideoSequenceHeader(m.Payload) {
				got.Add(1)
			}
		}
	}()
	var peakHeap uint64
	stopSampling := make(chan struct{})
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	pctx, cancel := context.WithTimeout(ctx, publish)
	st, err := synthPublish(pctx, pub, fps, fps, frameSize, 0)
	cancel()
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	// Let the normal player drain, then stop it.
	waitFor(2*time.Second, func() bool { return got.Load() >= int64(st.frames) })
	_ = normal.Close()
	<-readDone
	close(stopSampling)
	<-sampleDone
	n := int(got.Load())

	stats := ts.Stats().Fanout
	t.Logf("published %d frames (%d MiB), normal player got %d; longest write %v; fanout skips %d, slow disconnects %d; heap in use grew by at most %d MiB",
		st.frames, st.frames*frameSize>>20, n, st.maxWrite.Round(time.Millisecond), stats.Skips, stats.SlowDisconnects, (int64(peakHeap)-int64(baseHeap))>>20)
	// The publisher is paced, so a publisher held back by the slow player would
	// show up as frames missing at the normal player: counts, not durations.
	if n < st.frames*9/10 {
		t.Errorf("normal player got %d of %d video frames", n, st.frames)
	}
	if stats.Skips == 0 && stats.SlowDisconnects == 0 {
		t.Error("the slow player was neither skipped ahead nor disconnected")
	}
	if peakHeap > baseHeap && peakHeap-baseHeap > 64<<20 {
		t.Errorf("heap in use grew by %d MiB", (peakHeap-baseHeap)>>20)
	}
}

// TestE2EBadInputClosesOnlyThatConnection sends hostile bytes on fresh
// connections while a normal player watches a stream: each bad connection is
// closed by the server and the player keeps receiving.
func TestE2EBadInputClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, nil)
	pub := publisher(t, ctx, ts, "live", "bad", client.Config{})
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = synthPublish(pctx, pub, 25, 25, 2000, 0)
	}()
	t.Cleanup(func() { stop(); wg.Wait() })

	normal := player(t, ctx, ts, "live", "bad", client.Config{})
	var mu sync.Mutex
	count := 0
	go func() {
		for {
			m, err := normal.ReadMessage()
			if err != nil {
				return
			}
			if m.TypeID == chunkcodec.TypeVideo {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}
	}()
	videos := func() int { mu.Lock(); defer mu.Unlock(); return count }

	garbage := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	oversized := []byte{0x03, 0, 0, 0, 0xff, 0xff, 0xff, chunkcodec.TypeVideo, 1, 0, 0, 0} // 16 MiB - 1 > 8 MiB cap
	oversized = append(oversized, make([]byte, 4096)...)
	cases := []struct {
		name string
		raw  []byte
	}{
		{"random bytes", garbage},
		{"oversized message", oversized},
		{"huge chunk size", chunkcodec.AppendSetChunkSize(nil, 0x7FFFFFFF)},
	}
	for _, tc := range cases {
		before := videos()
		c := dial(t, ctx, ts.url("live"), client.Config{})
		raw := c.RawConn()
		local := raw.LocalAddr().String()
		_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := raw.Write(tc.raw); err != nil && !isClosed(err) {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		buf := make([]byte, 4096)
		var err error
		for err == nil {
			_, err = raw.Read(buf)
		}
		if !isClosed(err) {
			t.Fatalf("%s: the server did not close the connection: %v", tc.name, err)
		}
		if !waitFor(2*time.Second, func() bool { return ts.log.contains("connection closed", local) }) {
			t.Errorf("%s: no log line with the peer address %s", tc.name, local)
		}
		if !waitFor(3*time.Second, func() bool { return videos() > before+10 }) {
			t.Fatalf("%s: the normal player stopped receiving (%d -> %d)", tc.name, before, videos())
		}
	}
}

// TestE2EEnhancedRTMPHEVC publishes Enhanced RTMP HEVC (ExVideoTagHeader with
// FourCC hvc1) and checks that players receive every video payload byte for
// byte and in order, and that a late joiner starts at the sequence start and
// the last keyframe.
func TestE2EEnhancedRTMPHEVC(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	seqStart, frames := hevcTestPayloads(t)
	// The players read until the publisher's end: no republish grace.
	ts := startServer(t, server.Config{RepublishGrace: -1}, nil)
	cfg := client.Config{FourCCList: []string{"hvc1"}}

	early := player(t, ctx, ts, "live", "hevc", cfg)
	pub := publisher(t, ctx, ts, "live", "hevc", cfg)
	sent := [][]byte{seqStart}
	if err := pub.WriteMessage(chunkcodec.TypeVideo, 0, seqStart); err != nil {
		t.Fatal(err)
	}
	// The first keyframe alone, so that the early player is past waiting for
	// a keyframe (a waiting player starts at the newest keyframe, which after
	// a burst may be a later one); then the rest of 1.5 GOPs; then a late
	// joiner; then the rest.
	isVideo := func(r *received) bool { return r.typ == chunkcodec.TypeVideo }
	var earlyGot []received
	split := 25 + 12
	for i, f := range frames[:split] {
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32(i*40), f); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, f)
		if i != 0 && i != split-1 {
			continue
		}
		for len(earlyGot) < len(sent) { // until the server has delivered what was sent
			msgs, err := readMessages(early, 5*time.Second, isVideo)
			if err != nil {
				t.Fatalf("early player after %d of %d video messages: %v", len(earlyGot), len(sent), err)
			}
			earlyGot = append(earlyGot, msgs[len(msgs)-1])
		}
	}
	late := player(t, ctx, ts, "live", "hevc", cfg)
	// The server answers play before it subscribes the player: wait for the
	// subscription, so that the late joiner starts from the GOP cache at
	// frame 25 and not from a keyframe of the burst below.
	if !waitFor(5*time.Second, func() bool { return ts.subscribers("live", "hevc") == 2 }) {
		t.Fatal("late joiner not subscribed")
	}
	for i, f := range frames[split:] {
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32((split+i)*40), f); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, f)
	}
	_ = pub.Close()

	for _, p := range []struct {
		name string
		c    *client.Conn
		got  []received
		want [][]byte
	}{
		{"early player", early, earlyGot, sent},
		{"late joiner", late, nil, append([][]byte{seqStart}, frames[25:]...)},
	} {
		msgs, err := readMessages(p.c, 5*time.Second, func(r *received) bool { return r.code == client.CodeUnpublishNotify })
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		got := p.got
		for _, m := range msgs {
			if m.typ == chunkcodec.TypeVideo {
				got = append(got, m)
			}
		}
		if len(got) != len(p.want) {
			t.Fatalf("%s got %d video messages, want %d", p.name, len(got), len(p.want))
		}
		for i := range got {
			if !bytes.Equal(got[i].payload, p.want[i]) {
				t.Fatalf("%s: video message %d differs from what was sent", p.name, i)
			}
		}
		h0, err0 := flvmux.ReadVideoHeader(got[0].payload)
		h1, err1 := flvmux.ReadVideoHeader(got[1].payload)
		if err0 != nil || err1 != nil || !h0.Enhanced || h0.FourCC != flvmux.FourCCHVC1 || !h0.IsSequenceHeader() ||
			!h1.Enhanced || !h1.IsKeyframe() || h1.PacketType != flvmux.VideoPacketCodedFrames {
			t.Fatalf("%s: first messages are not ExSequenceStart then an Ex keyframe: %+v %+v", p.name, h0, h1)
		}
	}
}

// hevcTestPayloads returns an Enhanced RTMP SequenceStart and 75 CodedFrames
// payloads (a keyframe every 25). With libx265 they carry real HEVC from
// ffmpeg; otherwise synthetic bytes (the server never decodes them).
func hevcTestPayloads(t *testing.T) (seqStart []byte, frames [][]byte) {
	t.Helper()
	const n = 75
	if ffmpeg, err := exec.LookPath("ffmpeg"); err == nil {
		enc, _ := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output()
		if bytes.Contains(enc, []byte("libx265")) {
			out := filepath.Join(t.TempDir(), "out.hevc")
			runProc(t, ffmpegMediaTimeout, ffmpeg, ffmpegArgs("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
				"-frames:v", strconv.Itoa(n), "-c:v", "libx265", "-preset", "ultrafast",
				"-x265-params", "keyint=25:min-keyint=25:scenecut=0:bframes=0:log-level=error", "-f", "hevc", out)...)
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			seqStart, frames, err = hevcEnhancedPayloads(b)
			if err != nil {
				t.Fatalf("parsing ffmpeg's HEVC: %v", err)
			}
			if len(frames) != n {
				t.Fatalf("ffmpeg's HEVC has %d access units, want %d", len(frames), n)
			}
			t.Logf("HEVC from libx265: %d access units, hvcC of %d bytes", len(frames), len(seqStart)-5)
			return seqStart, frames
		}
	}
	t.Log("libx265 unavailable: synthetic HEVC payloads")
	rng := rand.New(rand.NewPCG(5, 6))
	seqStart = append([]byte{0x80 | 1<<4 | flvmux.VideoPacketSequenceStart}, "hvc1"...)
	seqStart = append(seqStart, 1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5a, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0)
	for i := range n {
		ft := byte(2)
		if i%25 == 0 {
			ft = 1
		}
		f := append([]byte{0x80 | ft<<4 | flvmux.VideoPacketCodedFrames}, "hvc1"...)
		f = append(f, 0, 0, 0)
		nal := make([]byte, 200+rng.IntN(3000))
		for j := range nal {
			nal[j] = byte(rng.Uint32())
		}
		f = binary.BigEndian.AppendUint32(f, uint32(len(nal)))
		frames = append(frames, append(f, nal...))
	}
	return seqStart, frames
}

// hevcEnhancedPayloads turns an Annex B HEVC elementary stream into Enhanced
// RTMP video payloads: a SequenceStart carrying an HEVCDecoderConfigurationRecord
// built from the first VPS, SPS and PPS, and one CodedFrames payload per
// access unit (length-prefixed NAL units, parameter sets and access unit
// delimiters left out).
func hevcEnhancedPayloads(annexB []byte) (seqStart []byte, frames [][]byte, err error) {
	var vps, sps, pps []byte
	var au [][]byte
	hasSlice, key := false, false
	flush := func() {
		if !hasSlice {
			return
		}
		ft := byte(flvmux.FrameInter)
		if key {
			ft = flvmux.FrameKey
		}
		f := append([]byte{0x80 | ft<<4 | flvmux.VideoPacketCodedFrames}, "hvc1"...)
		f = append(f, 0, 0, 0) // composition time: no B-frames
		for _, nal := range au {
			f = binary.BigEndian.AppendUint32(f, uint32(len(nal)))
			f = append(f, nal...)
		}
		frames = append(frames, f)
		au, hasSlice, key = au[:0], false, false
	}
	for _, nal := range splitAnnexB(annexB) {
		if len(nal) < 3 {
			continue
		}
		typ := nal[0] >> 1 & 0x3f
		switch {
		case typ <= 31: // VCL
			if nal[2]&0x80 != 0 { // first_slice_segment_in_pic_flag
				flush()
			}
			hasSlice = true
			key = key || (typ >= 16 && typ <= 23)
			au = append(au, nal)
		case typ == 32 || typ == 33 || typ == 34 || typ == 35 || typ == 39:
			flush() // parameter sets, AUD and prefix SEI start an access unit
			switch typ {
			case 32:
				vps = cmpOr(vps, nal)
			case 33:
				sps = cmpOr(sps, nal)
			case 34:
				pps = cmpOr(pps, nal)
			case 39:
				au = append(au, nal)
			}
		default:
			au = append(au, nal)
		}
	}
	flush()
	if vps == nil || sps == nil || pps == nil {
		return nil, nil, errors.New("no VPS, SPS or PPS")
	}
	rec, err := hvcC(vps, sps, pps)
	if err != nil {
		return nil, nil, err
	}
	seqStart = append([]byte{0x80 | flvmux.FrameKey<<4 | flvmux.VideoPacketSequenceStart}, "hvc1"...)
	return append(seqStart, rec...), frames, nil
}

func cmpOr(a, b []byte) []byte {
	if a != nil {
		return a
	}
	return b
}

// splitAnnexB returns the NAL units of an Annex B byte stream (start codes
// and trailing zero bytes removed). The slices alias b.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nals = append(nals, bytes.TrimRight(b[start:i], "\x00"))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// hvcC builds a minimal HEVCDecoderConfigurationRecord (ISO/IEC 14496-15,
// 8.3.3.1) with one VPS, SPS and PPS, copying the general profile, tier and
// level from the SPS. It assumes 4:2:0, 8-bit video (what the test encodes).
func hvcC(vps, sps, pps []byte) ([]byte, error) {
	rbsp := mediainfo.UnescapeRBSP(sps[2:]) // after the 2-byte NAL header
	if len(rbsp) < 13 {
		return nil, errors.New("SPS too short")
	}
	maxSubLayersMinus1 := rbsp[0] >> 1 & 7
	nested := rbsp[0] & 1
	ptl := rbsp[1:13] // general_profile_space .. general_level_idc
	r := []byte{1}
	r = append(r, ptl...)
	r = append(r,
		0xf0, 0x00, // min_spatial_segmentation_idc 0
		0xfc,       // parallelismType 0
		0xfc|1,     // chroma_format_idc 1 (4:2:0)
		0xf8, 0xf8, // bit depths 8
		0, 0, // avgFrameRate
		(maxSubLayersMinus1+1)<<3|nested<<2|3, // numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
		3) // numOfArrays
	for _, nal := range [][]byte{vps, sps, pps} {
		r = append(r, 0x80|nal[0]>>1&0x3f) // array_completeness, NAL unit type
		r = binary.BigEndian.AppendUint16(r, 1)
		r = binary.BigEndian.AppendUint16(r, uint16(len(nal)))
		r = append(r, nal...)
	}
	return r, nil
}

// tokenHandler refuses publishing without ?token=secret and maps the play
// name "alias" to "real".
type tokenHandler struct{ server.BaseHandler }

func (tokenHandler) OnPublish(_ *server.Session, req *server.StreamRequest) error {
	q, _ := url.ParseQuery(req.Query)
	if q.Get("token") != "secret" {
		return server.Reject("invalid token")
	}
	return nil
}

func (tokenHandler) OnPlay(_ *server.Session, req *server.StreamRequest) error {
	if req.Name == "alias" {
		req.Name = "real"
	}
	return nil
}

// TestE2EAppHandlers checks app hooks end to end: a publish token, an unknown
// app, a custom command, and a handler that rewrites the play name.
func TestE2EAppHandlers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	app := &server.App{Handler: tokenHandler{}}
	app.HandleCommand("echo", func(c *server.Call) error {
		vals := make([]any, c.NumArgs())
		for i := range vals {
			vals[i] = c.Arg(i)
		}
		return c.Reply(vals...)
	})
	app.HandleCommand("fail", func(*server.Call) error { return errors.New("nothing to see") })
	ts := startServer(t, server.Config{}, map[string]*server.App{"secure": app})

	t.Run("publish without token", func(t *testing.T) {
		c := dial(t, ctx, ts.url("secure/cam?token=wrong"), client.Config{})
		err := c.Publish(ctx, c.StreamName())
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != client.CodePublishRejected || se.Description != "invalid token" {
			t.Fatalf("publish without the token: %v", err)
		}
	})
	t.Run("ffmpeg publish without token", func(t *testing.T) {
		ffmpeg, _ := requireFFmpeg(t)
		args := ffmpegArgs(lavfiInputs...)
		args = append(args, "-t", "1")
		args = append(args, h264Output...)
		args = append(args, "-f", "flv", ts.url("secure/cam"))
		p := startProc(t, ctx, ffmpeg, args...)
		if !p.wait(10 * time.Second) {
			t.Fatal("ffmpeg still running")
		}
		if p.err == nil || !strings.Contains(p.stderr.String(), "invalid token") {
			t.Fatalf("ffmpeg publish without the token: %v\n%s", p.err, p.stderr.String())
		}
	})
	t.Run("publish with token", func(t *testing.T) {
		c := dial(t, ctx, ts.url("secure/cam?token=secret"), client.Config{})
		if err := c.Publish(ctx, c.StreamName()); err != nil {
			t.Fatalf("publish with the token: %v", err)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		_, err := client.Dial(ctx, ts.url("nope/x"), client.Config{})
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != client.CodeConnectRejected {
			t.Fatalf("connect to an unknown app: %v", err)
		}
	})
	t.Run("custom command", func(t *testing.T) {
		c := dial(t, ctx, ts.url("secure"), client.Config{})
		doc, err := c.Call(ctx, "echo", "hello", 42, map[string]any{"k": "v"})
		if err != nil {
			t.Fatal(err)
		}
		if doc.At(0).Str() != "_result" || doc.At(3).Str() != "hello" || doc.At(4).Number() != 42 || doc.At(5).Get("k").Str() != "v" {
			t.Fatalf("echo replied with %d values: %q %v", doc.Len(), doc.At(3).Str(), doc.At(4).Number())
		}
		_, err = c.Call(ctx, "fail")
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != client.CodeCallFailed || se.Description != "nothing to see" {
			t.Fatalf("fail: %v", err)
		}
		_, err = c.Call(ctx, "nosuchcommand")
		if !errors.As(err, &se) || se.Code != client.CodeCallFailed {
			t.Fatalf("unknown command: %v", err)
		}
	})
	t.Run("play name rewrite", func(t *testing.T) {
		pub := publisher(t, ctx, ts, "secure", "real?token=secret", client.Config{})
		c := player(t, ctx, ts, "secure", "alias", client.Config{})
		pctx, stop := context.WithTimeout(ctx, 3*time.Second)
		defer stop()
		go func() { _, _ = synthPublish(pctx, pub, 25, 25, 1000, 0) }()
		if _, err := readMessages(c, 3*time.Second, func(r *received) bool {
			return r.typ == chunkcodec.TypeVideo && flvmux.IsVideoKeyframe(r.payload)
		}); err != nil {
			t.Fatalf("player of the alias: %v", err)
		}
	})
}

// TestE2EShutdownWithPlayer shuts the server down while a player is
// attached: the player gets UnpublishNotify and Stream EOF, then a clean
// close, within the shutdown timeout.
func TestE2EShutdownWithPlayer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, nil)
	pub := publisher(t, ctx, ts, "live", "down", client.Config{})
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = synthPublish(pctx, pub, 25, 25, 1000, 0)
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
	c := player(t, ctx, ts, "live", "down", client.Config{})
	if _, err := readMessages(c, 3*time.Second, func(r *received) bool { return r.typ == chunkcodec.TypeVideo }); err != nil {
		t.Fatalf("player before shutdown: %v", err)
	}

	sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(sctx) }()
	msgs, err := readMessages(c, shutdownTimeout, nil)
	if err == nil || !isClosed(err) {
		t.Fatalf("player after shutdown: %v", err)
	}
	notify, eof := false, false
	for _, m := range msgs {
		notify = notify || m.code == client.CodeUnpublishNotify
		eof = eof || m.event == int(chunkcodec.EventStreamEOF)
	}
	if !notify || !eof {
		t.Errorf("player saw UnpublishNotify %v, Stream EOF %v before the close", notify, eof)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestE2EPlayBeforePublish starts a player before the publisher: it hears
// NetStream.Play.PublishNotify and then gets the stream from its first
// keyframe, sequence header first.
func TestE2EPlayBeforePublish(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, nil)
	c := player(t, ctx, ts, "live", "early", client.Config{})
	pub := publisher(t, ctx, ts, "live", "early", client.Config{})
	if _, err := synthPublish(ctx, pub, 100, 25, 500, 30); err != nil {
		t.Fatal(err)
	}
	msgs, err := readMessages(c, 3*time.Second, func(r *received) bool {
		return r.typ == chunkcodec.TypeVideo && !flvmux.IsVideoSequenceHeader(r.payload)
	})
	if err != nil {
		t.Fatalf("player: %v", err)
	}
	var kinds []string
	notify := false
	for _, m := range msgs {
		notify = notify || m.code == client.CodePublishNotify
		kinds = append(kinds, fmt.Sprintf("%d/%s/%d", m.typ, m.code, m.event))
	}
	last := msgs[len(msgs)-1]
	prev := msgs[len(msgs)-2]
	if !flvmux.IsVideoKeyframe(last.payload) || prev.typ != chunkcodec.TypeVideo || !flvmux.IsVideoSequenceHeader(prev.payload) {
		t.Fatalf("player's first video: %v", kinds)
	}
	if !notify {
		t.Fatalf("a player attached before the publisher got no NetStream.Play.PublishNotify "+
			"(control packets must reach a subscriber waiting for its first keyframe); got %v", kinds)
	}
}

// TestE2EUnpublishReachesWaitingPlayer joins a player to a stream without a
// GOP cache mid-GOP, so it waits for the next keyframe; the publisher leaves
// before that keyframe. The player must still get UnpublishNotify and Stream
// EOF (an ffmpeg player would otherwise wait forever).
func TestE2EUnpublishReachesWaitingPlayer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// The end of stream at once, not after the republish grace.
	ts := startServer(t, server.Config{RepublishGrace: -1}, map[string]*server.App{"nocache": {DisableGOPCache: true}})
	pub := publisher(t, ctx, ts, "nocache", "w", client.Config{})
	// One keyframe, then inter frames only (a 10 s GOP).
	if _, err := synthPublish(ctx, pub, 50, 500, 500, 10); err != nil {
		t.Fatal(err)
	}
	c := player(t, ctx, ts, "nocache", "w", client.Config{})
	for i := 10; i < 20; i++ { // inter frames only: the player keeps waiting
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32(i*20), synthVideo(false, 500, i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = pub.Close()
	msgs, err := readMessages(c, 3*time.Second, func(r *received) bool { return r.event == int(chunkcodec.EventStreamEOF) })
	notify := false
	for _, m := range msgs {
		notify = notify || m.code == client.CodeUnpublishNotify
	}
	if err != nil || !notify {
		t.Fatalf("a player waiting for a keyframe must still get NetStream.Play.UnpublishNotify and Stream EOF: "+
			"UnpublishNotify %v, Stream EOF %v (%v)", notify, err == nil, err)
	}
}
