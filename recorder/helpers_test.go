package recorder

// Test helpers: a synthetic AVC+AAC stream in FLV form, feeding it to a
// Recording as the fanout would, and parsing the files that come out.

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// Synthetic stream parameters.
const (
	synthFrameMs    = 40 // 25 fps
	synthGOP        = 25 // a keyframe every second
	synthAudioMs    = 23 // about 1024 samples at 44.1 kHz
	synthKeySize    = 2000
	synthInterSize  = 400
	synthAudioSize  = 200
	synthVideoCodec = 7  // AVC
	synthAudioCodec = 10 // AAC
)

// synthTag is one tag of the synthetic stream.
type synthTag struct {
	typ  uint8
	ts   uint32
	data []byte
}

var (
	synthAVCSeq = []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 1, 0, 4, 0x68, 0xce, 0x3c, 0x80}
	synthAACSeq = []byte{0xaf, 0, 0x12, 0x10}
)

// synthVideo returns an AVC NALU tag body of size bytes.
func synthVideo(key bool, size, seq int) []byte {
	b := make([]byte, size)
	b[0] = 0x27
	if key {
		b[0] = 0x17
	}
	b[1] = 1 // AVC NALU
	for i := 5; i < size; i++ {
		b[i] = byte(seq + i)
	}
	return b
}

func synthAudio(size, seq int) []byte {
	b := make([]byte, size)
	b[0], b[1] = 0xaf, 1
	for i := 2; i < size; i++ {
		b[i] = byte(seq * i)
	}
	return b
}

// synthStream returns the tags of a stream of durMs milliseconds in timestamp
// order: the publisher's onMetaData, the AVC and AAC sequence headers, then
// video frames every synthFrameMs (a keyframe every synthGOP frames) and
// audio frames every synthAudioMs.
func synthStream(durMs int) []synthTag {
	md := flvmux.Metadata{Width: 640, Height: 360, FrameRate: 25, VideoCodecID: synthVideoCodec,
		AudioCodecID: synthAudioCodec, AudioSampleRate: 44100, HasAudio: true, HasVideo: true, Encoder: "synth"}
	tags := []synthTag{
		{flvmux.TagScript, 0, flvmux.AppendOnMetaData(nil, &md)},
		{flvmux.TagVideo, 0, synthAVCSeq},
		{flvmux.TagAudio, 0, synthAACSeq},
	}
	var media []synthTag
	for i := 0; i*synthFrameMs < durMs; i++ {
		key := i%synthGOP == 0
		size := synthInterSize
		if key {
			size = synthKeySize
		}
		media = append(media, synthTag{flvmux.TagVideo, uint32(i * synthFrameMs), synthVideo(key, size, i)})
	}
	for i := 0; i*synthAudioMs < durMs; i++ {
		media = append(media, synthTag{flvmux.TagAudio, uint32(i * synthAudioMs), synthAudio(synthAudioSize, i)})
	}
	sort.SliceStable(media, func(i, j int) bool { return media[i].ts < media[j].ts })
	return append(tags, media...)
}

// flvOf encodes tags as an FLV byte stream, with the file header first when header is set.
func flvOf(tags []synthTag, header bool) []byte {
	var b []byte
	if header {
		b = flvmux.AppendFileHeader(b, true, true)
	}
	for _, t := range tags {
		b = flvmux.AppendTag(b, t.typ, t.ts, t.data)
	}
	return b
}

// feed writes tags to r as the fanout does: the FLV header first (when
// header is set), then one Writev per tag.
func feed(t testing.TB, r *Recording, tags []synthTag, header bool) {
	t.Helper()
	if header {
		if _, err := r.Writev([][]byte{flvmux.AppendFileHeader(nil, true, true)}); err != nil {
			t.Fatalf("writev header: %v", err)
		}
	}
	var buf []byte
	for _, tg := range tags {
		buf = flvmux.AppendTag(buf[:0], tg.typ, tg.ts, tg.data)
		if _, err := r.Writev([][]byte{buf}); err != nil {
			t.Fatalf("writev tag ts %d: %v", tg.ts, err)
		}
	}
}

// quietLogger discards recorder logs below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.Logger = quietLogger()
	return NewManager(cfg)
}

// parsedTag is a tag found in a file.
type parsedTag struct {
	typ  uint8
	ts   uint32
	pos  int64 // file offset of the tag header
	key  bool  // video keyframe (not a sequence header)
	seq  bool  // sequence header
	data []byte
}

// parsedFile is a recording as read back.
type parsedFile struct {
	size int64
	tags []parsedTag
	end  int64 // offset just past the last whole tag's PreviousTagSize
	md   fileMeta
	ours bool
}

// parseFile reads every whole tag of path and the metadata of its first tag.
func parseFile(t testing.TB, path string) parsedFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf := parsedFile{size: int64(len(b))}
	var rd flvmux.Reader
	var consumed int64
	p := b
	for len(p) > 0 {
		n, tag, err := rd.Feed(p)
		p = p[n:]
		consumed += int64(n)
		if err != nil {
			t.Fatalf("%s: FLV error at %d: %v", path, consumed, err)
		}
		if tag == nil {
			continue
		}
		pt := parsedTag{typ: tag.Type, ts: tag.Timestamp, pos: consumed - flvmux.TagHeaderSize - int64(tag.DataSize),
			data: append([]byte(nil), tag.Data...)}
		switch tag.Type {
		case flvmux.TagVideo:
			pt.seq = flvmux.IsVideoSequenceHeader(tag.Data)
			pt.key = flvmux.IsVideoKeyframe(tag.Data) && !pt.seq
		case flvmux.TagAudio:
			pt.seq = len(tag.Data) > 1 && tag.Data[1] == 0
		}
		pf.tags = append(pf.tags, pt)
		pf.end = consumed + flvmux.PrevTagSizeLen
	}
	if len(pf.tags) > 0 && pf.tags[0].typ == flvmux.TagScript {
		pf.ours, err = readMeta(pf.tags[0].data, &pf.md)
		if err != nil {
			t.Fatalf("%s: metadata: %v", path, err)
		}
	}
	return pf
}

// keyframes returns the index a scan of the tags gives.
func (pf parsedFile) keyframes() flvmux.Keyframes {
	var k flvmux.Keyframes
	for _, tg := range pf.tags {
		if tg.key {
			k.Times = append(k.Times, float64(tg.ts)/1000)
			k.FilePositions = append(k.FilePositions, float64(tg.pos))
		}
	}
	return k
}

// checkPlayable checks the layout every recording must have: FLV header, our
// metadata, the sequence headers, then a keyframe at 0; whole tags to the end.
func checkPlayable(t testing.TB, path string) parsedFile {
	t.Helper()
	pf := parseFile(t, path)
	if pf.end != pf.size {
		t.Fatalf("%s: %d bytes but whole tags end at %d", path, pf.size, pf.end)
	}
	if len(pf.tags) < 4 || pf.tags[0].typ != flvmux.TagScript || !pf.ours {
		t.Fatalf("%s: does not start with Quaver's metadata", path)
	}
	i := 1
	for i < len(pf.tags) && pf.tags[i].seq {
		i++
	}
	if i != 3 {
		t.Fatalf("%s: %d sequence headers after the metadata, want 2", path, i-1)
	}
	if first := pf.tags[i]; !first.key || first.ts != 0 {
		t.Fatalf("%s: first media tag is %+v, want a keyframe at 0", path, first)
	}
	return pf
}

// checkIndex checks that the metadata's keyframe index is what a scan finds.
func checkIndex(t testing.TB, path string, pf parsedFile) {
	t.Helper()
	scan := pf.keyframes()
	got := pf.md.Keyframes
	if len(got.Times) != len(scan.Times) || len(got.FilePositions) != len(scan.FilePositions) {
		t.Fatalf("%s: index has %d/%d keyframes, scan finds %d", path, len(got.Times), len(got.FilePositions), len(scan.Times))
	}
	for i := range scan.Times {
		if got.Times[i] != scan.Times[i] || got.FilePositions[i] != scan.FilePositions[i] {
			t.Fatalf("%s: keyframe %d: index (%v s, @%v), scan (%v s, @%v)", path, i,
				got.Times[i], got.FilePositions[i], scan.Times[i], scan.FilePositions[i])
		}
	}
}

// waitUntil polls cond every 10 ms for at most d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordingFiles lists the .flv files under dir, sorted by name.
func recordingFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Ext(p) == ".flv" {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitCreated waits (bounded) until r's writer has created its first file or
// failed to, and returns r.Path().
func waitCreated(t testing.TB, r *Recording) string {
	t.Helper()
	select {
	case <-r.created:
	case <-time.After(recordTimeout):
		t.Fatal("the writer never created the file")
	}
	return r.Path()
}

// countHandler is a slog.Handler that counts error records.
type countHandler struct{ errors atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
