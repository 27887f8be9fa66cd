package recorder

import (
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// recordTimeout bounds the waits for the writer goroutine.
const recordTimeout = 10 * time.Second

func TestEncodeMetaReservedSize(t *testing.T) {
	const capacity = DefaultIndexCapacity
	size := reservedSize(capacity)
	for _, n := range []int{0, 1, 3600, 20000} {
		md := fileMeta{
			Metadata: flvmux.Metadata{Duration: float64(n) + 0.04, Width: 1920, Height: 1080, FrameRate: 25,
				VideoCodecID: 7, AudioCodecID: 10, AudioSampleRate: 48000, FileSize: 123456789,
				HasAudio: true, HasVideo: true, Stereo: true, Encoder: "Lavf59.27.100"},
			Complete: n%2 == 0,
			StartMs:  1764000000123,
			App:      "record",
			Stream:   "cam",
		}
		for i := range n {
			md.Keyframes.Times = append(md.Keyframes.Times, float64(i))
			md.Keyframes.FilePositions = append(md.Keyframes.FilePositions, float64(66000+i*250000))
		}
		body, err := encodeMeta(nil, &md, size)
		if err != nil {
			t.Fatalf("%d keyframes: %v", n, err)
		}
		if len(body) != size {
			t.Fatalf("%d keyframes: body is %d bytes, want exactly %d", n, len(body), size)
		}
		var got fileMeta
		ours, err := readMeta(body, &got)
		if err != nil || !ours {
			t.Fatalf("%d keyframes: readMeta: ours=%v err=%v", n, ours, err)
		}
		if got.Complete != md.Complete || got.StartMs != md.StartMs || got.App != md.App || got.Stream != md.Stream ||
			got.Duration != md.Duration || got.Width != md.Width || got.FileSize != md.FileSize ||
			got.VideoCodecID != md.VideoCodecID || got.AudioCodecID != md.AudioCodecID || got.Encoder != md.Encoder {
			t.Fatalf("%d keyframes: round trip\n got %+v\nwant %+v", n, got, md)
		}
		k := got.Keyframes
		if len(k.Times) != len(k.FilePositions) {
			t.Fatalf("%d keyframes: %d times, %d positions", n, len(k.Times), len(k.FilePositions))
		}
		if n <= capacity {
			if len(k.Times) != n {
				t.Fatalf("%d keyframes: index has %d, want all of them", n, len(k.Times))
			}
			for i := range n {
				if k.Times[i] != md.Keyframes.Times[i] || k.FilePositions[i] != md.Keyframes.FilePositions[i] {
					t.Fatalf("%d keyframes: entry %d differs", n, i)
				}
			}
			continue
		}
		// Thinned: a subset of the entries, in order, starting with the first.
		if len(k.Times) == 0 || len(k.Times) > capacity || k.Times[0] != 0 || k.FilePositions[0] != 66000 {
			t.Fatalf("%d keyframes: thinned index of %d entries starts %v", n, len(k.Times), k.Times[:min(1, len(k.Times))])
		}
		for i := range k.Times {
			j := int(k.Times[i])
			if float64(j) != k.Times[i] || j >= n || k.FilePositions[i] != md.Keyframes.FilePositions[j] {
				t.Fatalf("%d keyframes: thinned entry %d (%v, %v) is not an original pair", n, i, k.Times[i], k.FilePositions[i])
			}
			if i > 0 && k.Times[i] <= k.Times[i-1] {
				t.Fatalf("%d keyframes: thinned index not increasing at %d", n, i)
			}
		}
	}
}

func TestSafeJoinRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"", "../x", "/abs", "/etc/passwd", "a/../../b", "..", "x\\y", "a\x00b", "a/b/../../../c"} {
		if p, err := safeJoin(dir, rel); !errors.Is(err, ErrBadName) {
			t.Errorf("safeJoin(%q) = %q, %v; want ErrBadName", rel, p, err)
		}
	}
	for _, rel := range []string{"a.flv", "app/cam-1.flv", "a/./b.flv", "a/b/../c.flv"} {
		p, err := safeJoin(dir, rel)
		if err != nil || !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Errorf("safeJoin(%q) = %q, %v; want a path under %s", rel, p, err, dir)
		}
	}
	for _, s := range []string{"", "../x", "/abs", "a/../../b", "..", "x\\y", "a\x00b"} {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
	for _, s := range []string{"cam", "cam_1", "a/b", "x.y"} {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
}

func TestFindRefusesEscapes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rec")
	m := testManager(t, Config{Dir: dir})
	// A real recording outside the record directory must stay unreachable.
	r, err := NewManager(Config{Dir: filepath.Join(root, "outside"), Logger: quietLogger()}).Start("app", "secret")
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthStream(1000), true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join(root, "outside", "app"), r.Path())
	for _, name := range []string{"../../outside/app/" + rel, "../outside/app/" + rel, "/abs.flv", r.Path(), "..", "../x", "a\x00.flv", "x\\..\\y.flv"} {
		if p, err := m.Find("app", name); err == nil {
			t.Errorf("Find(app, %q) = %q; want an error", name, p)
		}
	}
	if p, err := m.Find("..", "secret"); err == nil {
		t.Errorf("Find(.., secret) = %q; want an error", p)
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	m := testManager(t, Config{})
	now := time.Date(2026, 11, 24, 1, 28, 41, 0, time.UTC)
	var paths []string
	for range 3 {
		f, p, err := m.create("app", "cam", now)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString("x")
		_ = f.Close()
		paths = append(paths, p)
	}
	base := "app/cam-20261124-012841"
	want := []string{base + ".flv", base + "-1.flv", base + "-2.flv"}
	for i := range want {
		if paths[i] != want[i] {
			t.Fatalf("file %d is %s, want %s", i, paths[i], want[i])
		}
	}
	// Two recordings started in the same second get distinct files.
	r1, err := m.Start("app", "same")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m.Start("app", "same")
	if err != nil {
		t.Fatal(err)
	}
	if p1, p2 := waitCreated(t, r1), waitCreated(t, r2); p1 == p2 || p1 == "" {
		t.Fatalf("both recordings write %q", p1)
	}
	r1.Stop()
	r2.Stop()
	m.Wait()
}

func TestRecordFinishedFile(t *testing.T) {
	m := testManager(t, Config{})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	tags := synthStream(10000)
	feed(t, r, tags, true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatalf("recording: %v", err)
	}
	pf := checkPlayable(t, r.Path())
	if !pf.md.Complete {
		t.Fatal("finished recording says quaverComplete=false")
	}
	checkIndex(t, r.Path(), pf)
	if len(pf.md.Keyframes.Times) != 10 {
		t.Fatalf("%d keyframes indexed, want 10", len(pf.md.Keyframes.Times))
	}
	// Last video at 9960 ms plus one frame.
	if d := pf.md.Duration; math.Abs(d-10.0) > 0.05 {
		t.Fatalf("duration %v, want about 10 s", d)
	}
	if pf.md.FileSize != float64(pf.size) || pf.md.App != "app" || pf.md.Stream != "cam" || pf.md.Width != 640 {
		t.Fatalf("metadata %+v (file %d bytes)", pf.md, pf.size)
	}
	// Every media tag made it, in order.
	media := len(tags) - 3 // all but the publisher's metadata and the sequence headers
	if got := len(pf.tags) - 3; got != media {
		t.Fatalf("%d media tags in the file, fed %d", got, media)
	}
	if list := m.List(); len(list) != 1 || !list[0].Complete || list[0].Stream != "cam" {
		t.Fatalf("List = %+v", list)
	}
	if p, err := m.Find("app", "cam"); err != nil || p != r.Path() {
		t.Fatalf("Find(app, cam) = %q, %v; want %s", p, err, r.Path())
	}
	if p, err := m.Find("app", filepath.Base(r.Path())); err != nil || p != r.Path() {
		t.Fatalf("Find(app, %s) = %q, %v", filepath.Base(r.Path()), p, err)
	}
}

// crashCopy records tags up to and including the keyframe at cutMs, waits
// until the writer has pushed them to the file, and copies the file as a kill -9
// would leave it: metadata still saying quaverComplete=false.
func crashCopy(t *testing.T, m *Manager, cutMs uint32, dst string) {
	t.Helper()
	r, err := m.Start("app", "crash")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Stop(); _ = r.Wait() }()
	var upto []synthTag
	for _, tg := range synthStream(int(cutMs) + 1000) {
		upto = append(upto, tg)
		if tg.typ == flvmux.TagVideo && tg.ts == cutMs {
			break
		}
	}
	feed(t, r, upto, true)
	// A keyframe is pushed to the file with everything before it.
	waitCreated(t, r)
	ok := waitUntil(recordTimeout, func() bool {
		b, err := os.ReadFile(r.Path())
		if err != nil || len(b) < 4 {
			return false
		}
		pf := parseFile(t, r.Path())
		return len(pf.tags) > 0 && pf.tags[len(pf.tags)-1].key && pf.tags[len(pf.tags)-1].ts == cutMs
	})
	if !ok {
		t.Fatalf("keyframe at %d ms never reached the file", cutMs)
	}
	copyFile(t, r.Path(), dst)
}

func TestRepairTornFile(t *testing.T) {
	dir := t.TempDir()
	m := testManager(t, Config{Dir: filepath.Join(dir, "rec"), FlushInterval: time.Hour})
	whole := filepath.Join(dir, "whole.flv")
	crashCopy(t, m, 6000, whole)
	pf := parseFile(t, whole)
	if pf.md.Complete {
		t.Fatal("unfinished recording says quaverComplete=true")
	}
	last := pf.tags[len(pf.tags)-1] // the keyframe at 6 s
	lastEnd := pf.end               // its PreviousTagSize ends the file
	prev := pf.tags[len(pf.tags)-2] // the tag before it
	prevEnd := last.pos             // ... ends where the keyframe starts
	cases := []struct {
		name     string
		size     int64 // truncate the copy to this size
		wantEnd  int64 // file size after repair
		wantLast uint32
	}{
		{"whole", lastEnd, lastEnd, last.ts},
		{"torn PreviousTagSize", lastEnd - 2, lastEnd - flvmux.PrevTagSizeLen, last.ts},
		{"no PreviousTagSize", lastEnd - flvmux.PrevTagSizeLen, lastEnd - flvmux.PrevTagSizeLen, last.ts},
		{"torn tag data", last.pos + flvmux.TagHeaderSize + 700, prevEnd, prev.ts},
		{"torn tag header", last.pos + 5, prevEnd, prev.ts},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "torn.flv")
			copyFile(t, whole, p)
			if err := os.Truncate(p, tc.size); err != nil {
				t.Fatal(err)
			}
			info, err := Repair(p, 0)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			st, _ := os.Stat(p)
			if st.Size() != tc.wantEnd || info.Size != tc.wantEnd {
				t.Fatalf("repaired file is %d bytes (info %d), want %d", st.Size(), info.Size, tc.wantEnd)
			}
			rp := parseFile(t, p)
			if rp.end != tc.wantEnd && rp.end-flvmux.PrevTagSizeLen != tc.wantEnd {
				t.Fatalf("whole tags end at %d, file is %d bytes", rp.end, tc.wantEnd)
			}
			if !rp.md.Complete || !rp.ours {
				t.Fatal("repaired file says quaverComplete=false")
			}
			if lt := rp.tags[len(rp.tags)-1].ts; lt != tc.wantLast {
				t.Fatalf("last tag at %d ms, want %d", lt, tc.wantLast)
			}
			checkIndex(t, p, rp)
			// Duration: last timestamp plus one video frame.
			want := float64(tc.wantLast+synthFrameMs) / 1000
			if math.Abs(rp.md.Duration-want) > 0.03 || math.Abs(info.Duration-rp.md.Duration) > 1e-9 {
				t.Fatalf("duration %v (info %v), want about %v", rp.md.Duration, info.Duration, want)
			}
			if rp.md.FileSize != float64(tc.wantEnd) {
				t.Fatalf("filesize %v, want %d", rp.md.FileSize, tc.wantEnd)
			}
		})
	}

	// RepairAll finds the unfinished file in the record directory (and only it).
	t.Run("RepairAll", func(t *testing.T) {
		rm := testManager(t, Config{})
		sub := filepath.Join(rm.cfg.Dir, "app")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(sub, "crash-1.flv")
		copyFile(t, whole, p)
		if err := os.Truncate(p, last.pos+100); err != nil {
			t.Fatal(err)
		}
		n, err := rm.RepairAll()
		if err != nil || n != 1 {
			t.Fatalf("RepairAll = %d, %v; want 1", n, err)
		}
		if n, err := rm.RepairAll(); err != nil || n != 0 {
			t.Fatalf("second RepairAll = %d, %v; want 0", n, err)
		}
		rp := parseFile(t, p)
		if !rp.md.Complete || rp.end != rp.size {
			t.Fatalf("after RepairAll: complete=%v end=%d size=%d", rp.md.Complete, rp.end, rp.size)
		}
	})
}

func TestRepairRefusesForeignFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "foreign.flv")
	if err := os.WriteFile(p, flvOf(synthStream(2000), true), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Repair(p, 0); err == nil || !strings.Contains(err.Error(), "not a Quaver recording") {
		t.Fatalf("Repair(foreign) = %v", err)
	}
	if _, err := Repair(filepath.Join(t.TempDir(), "missing.flv"), 0); err == nil {
		t.Fatal("Repair(missing) succeeded")
	}
}

// checkRotated checks a set of rotated files: each is playable on its own and,
// together, they hold every video frame once.
func checkRotated(t *testing.T, files []string, tags []synthTag) []parsedFile {
	t.Helper()
	var out []parsedFile
	videos := 0
	for _, f := range files {
		pf := checkPlayable(t, f)
		if !pf.md.Complete {
			t.Fatalf("%s: quaverComplete=false", f)
		}
		checkIndex(t, f, pf)
		// flvmux.Reader (the player's side) reads it from the first byte to the last.
		for _, tg := range pf.tags {
			if tg.typ == flvmux.TagVideo && !tg.seq {
				videos++
			}
		}
		out = append(out, pf)
	}
	want := 0
	for _, tg := range tags {
		if tg.typ == flvmux.TagVideo && !flvmux.IsVideoSequenceHeader(tg.data) {
			want++
		}
	}
	if videos != want {
		t.Fatalf("%d video frames in %d files, fed %d", videos, len(files), want)
	}
	return out
}

func TestRotateDuration(t *testing.T) {
	m := testManager(t, Config{RotateDuration: 2 * time.Second})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	tags := synthStream(7000)
	feed(t, r, tags, true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	files := recordingFiles(t, m.cfg.Dir)
	if len(files) != 4 {
		t.Fatalf("%d files (%v), want 4 (cuts at 2, 4 and 6 s)", len(files), files)
	}
	long := 0
	for _, pf := range checkRotated(t, files, tags) {
		switch d := pf.md.Duration; {
		case math.Abs(d-2.0) < 0.05:
			long++
		case math.Abs(d-1.0) < 0.05:
		default:
			t.Fatalf("file of %v s; want 2 s pieces and a 1 s rest", d)
		}
	}
	if long != 3 {
		t.Fatalf("%d files of 2 s, want 3", long)
	}
}

func TestRotateSize(t *testing.T) {
	const limit = 40 << 10
	m := testManager(t, Config{RotateSize: limit})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	tags := synthStream(8000)
	feed(t, r, tags, true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	files := recordingFiles(t, m.cfg.Dir)
	if len(files) < 2 {
		t.Fatalf("%d files, want several of about %d bytes", len(files), limit)
	}
	pfs := checkRotated(t, files, tags)
	small := 0
	for i, pf := range pfs {
		// A file is cut at the first keyframe once it reached the limit: it is
		// at least the limit, at most the limit plus one GOP, except the last.
		if pf.size < limit {
			small++
		}
		if pf.size > limit+64<<10 {
			t.Fatalf("file %d is %d bytes, limit %d", i, pf.size, limit)
		}
	}
	if small > 1 {
		t.Fatalf("%d files under the size limit; only the last may be", small)
	}
}

func TestQueueLimitStopsWithDiskTooSlow(t *testing.T) {
	const limit = 16 << 10
	m := testManager(t, Config{MaxQueueBytes: limit})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	tags := synthStream(60000)
	var werr error
	if _, werr = r.Writev([][]byte{flvmux.AppendFileHeader(nil, true, true)}); werr != nil {
		t.Fatal(werr)
	}
	var buf []byte
	for _, tg := range tags {
		buf = flvmux.AppendTag(buf[:0], tg.typ, tg.ts, tg.data)
		if _, werr = r.Writev([][]byte{buf}); werr != nil {
			break
		}
	}
	if werr == nil {
		// The writer kept up with the loop: a write larger than the whole
		// queue cannot wait.
		big := flvmux.AppendTag(nil, flvmux.TagVideo, 60000, synthVideo(false, 2*limit, 1))
		_, werr = r.Writev([][]byte{big})
	}
	if !errors.Is(werr, ErrDiskTooSlow) {
		t.Fatalf("Writev error %v, want ErrDiskTooSlow", werr)
	}
	if _, err := r.Writev([][]byte{buf}); err == nil {
		t.Fatal("Writev after the limit succeeded")
	}
	if err := r.Wait(); !errors.Is(err, ErrDiskTooSlow) {
		t.Fatalf("Wait = %v, want ErrDiskTooSlow", err)
	}
	if n := m.Failures(); n != 1 {
		t.Fatalf("Failures() = %d, want 1", n)
	}
	// What was written is a valid, finished recording.
	pf := checkPlayable(t, r.Path())
	if !pf.md.Complete {
		t.Fatal("stopped recording not finished")
	}
	checkIndex(t, r.Path(), pf)
}

// TestStartErrorUnwritableDir: Start does no disk I/O, so a record directory
// that cannot be created (a regular file is in the way; permissions would not
// stop root) is found by the writer goroutine: the recording ends with one
// error log, Wait returns the error with the path in it, and Writev returns it
// too, so the subscription ends.
func TestStartErrorUnwritableDir(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	errs := &countHandler{}
	m := NewManager(Config{Dir: filepath.Join(blocker, "rec"), Logger: slog.New(errs)})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatalf("Start = %v; it must not touch the disk", err)
	}
	werr := r.Wait()
	if werr == nil || !strings.Contains(werr.Error(), blocker) {
		t.Fatalf("Wait = %v; want an error naming %s", werr, blocker)
	}
	if _, err := r.Writev([][]byte{flvmux.AppendFileHeader(nil, true, true)}); !errors.Is(err, werr) {
		t.Fatalf("Writev after the failure = %v; want %v", err, werr)
	}
	if n := errs.errors.Load(); n != 1 {
		t.Fatalf("%d error logs, want 1", n)
	}
	if p := r.Path(); p != "" {
		t.Fatalf("Path = %q for a file never created", p)
	}
	if _, err := m.Start("..", "cam"); !errors.Is(err, ErrBadName) {
		t.Fatalf("Start(.., cam) = %v, want ErrBadName", err)
	}
	if _, err := m.Start("app", "../cam"); !errors.Is(err, ErrBadName) {
		t.Fatalf("Start(app, ../cam) = %v, want ErrBadName", err)
	}
}

func TestRecordingWithoutKeyframeLeavesNoFile(t *testing.T) {
	m := testManager(t, Config{})
	r, err := m.Start("app", "audio")
	if err != nil {
		t.Fatal(err)
	}
	var audio []synthTag
	for _, tg := range synthStream(2000) {
		if tg.typ == flvmux.TagAudio {
			audio = append(audio, tg)
		}
	}
	feed(t, r, audio, true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if files := recordingFiles(t, m.cfg.Dir); len(files) != 0 {
		t.Fatalf("files left behind: %v", files)
	}
}
