package recorder

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quaverlive/quaver/flvmux"
)

// record records durMs of the synthetic stream as app/stream and returns the file.
func record(t *testing.T, m *Manager, app, stream string, durMs int) string {
	t.Helper()
	r, err := m.Start(app, stream)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthStream(durMs), true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	return r.Path()
}

func relOf(t *testing.T, m *Manager, p string) string {
	t.Helper()
	rel, err := filepath.Rel(m.cfg.Dir, p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

// TestIndexAnswersFromMemory (A): once recordings are indexed, List, Find and
// Lookup answer with the record directory gone from under them: no walk, no
// open. The index follows a recording from its first keyframe on disk to its
// finished metadata.
func TestIndexAnswersFromMemory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rec")
	m := testManager(t, Config{Dir: dir, FlushInterval: 3600e9})
	old := record(t, m, "app", "cam", 3000)

	// In progress: found once its first keyframe is on disk, unfinished.
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	if p := waitCreated(t, r); p == "" {
		t.Fatal("no file")
	}
	tags := synthStream(10000)
	feed(t, r, tags[:40], true)
	var live Info
	if !waitUntil(recordTimeout, func() bool {
		live, err = m.Lookup("app", "cam")
		return err == nil && live.File == relOf(t, m, r.Path())
	}) {
		t.Fatalf("recording in progress never indexed: %+v, %v", live, err)
	}
	if live.Complete || live.Duration != 0 || live.Size == 0 || live.App != "app" || live.Stream != "cam" {
		t.Fatalf("in progress: %+v", live)
	}
	feed(t, r, tags[40:], false)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	newest := r.Path()
	other := record(t, m, "app", "other", 2000)

	// The directory goes away: the answers stay.
	if err := os.Rename(dir, filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	list := m.List()
	if len(list) != 3 {
		t.Fatalf("List = %d entries; want 3", len(list))
	}
	if list[0].File != relOf(t, m, other) || list[1].File != relOf(t, m, newest) || list[2].File != relOf(t, m, old) {
		t.Fatalf("List not newest first: %+v", list)
	}
	in, err := m.Lookup("app", "cam")
	if err != nil || in.File != relOf(t, m, newest) || !in.Complete || math.Abs(in.Duration-10) > 0.05 {
		t.Fatalf("Lookup(app, cam) = %+v, %v", in, err)
	}
	st, err := os.Stat(filepath.Join(root, "moved", filepath.FromSlash(in.File)))
	if err != nil || st.Size() != in.Size {
		t.Fatalf("index size %d, file %v, %v", in.Size, st, err)
	}
	if p, err := m.Find("app", "cam"); err != nil || p != newest {
		t.Fatalf("Find(app, cam) = %q, %v; want %s", p, err, newest)
	}
	if p, err := m.Find("app", filepath.Base(old)); err != nil || p != old {
		t.Fatalf("Find(app, %s) = %q, %v", filepath.Base(old), p, err)
	}
	if in, err := m.Lookup("app", filepath.Base(other)); err != nil || in.Stream != "other" || math.Abs(in.Duration-2) > 0.05 {
		t.Fatalf("Lookup(app, file) = %+v, %v", in, err)
	}
	for _, c := range [][2]string{{"app", "nope"}, {"app", "nope.flv"}, {"other", "cam"}} {
		if _, err := m.Lookup(c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%s, %s) = %v; want ErrNotFound", c[0], c[1], err)
		}
	}
	// Opening is where the disk is met: a file found gone loses its entry.
	if err := os.Rename(filepath.Join(root, "moved"), dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(newest); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenRecording(in.File); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenRecording of a moved file = %v; want ErrNotFound", err)
	}
	if _, err := m.Lookup("app", filepath.Base(newest)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entry kept after OpenRecording found the file gone: %v", err)
	}
	if in, err := m.Lookup("app", "cam"); err != nil || in.File != relOf(t, m, old) {
		t.Fatalf("Lookup(app, cam) after the newest went = %+v, %v; want %s", in, err, old)
	}
}

// TestIndexRotation (A): each rotated file enters the index as it starts and is
// finished in it as it ends; the newest is the last one; entries match the disk.
func TestIndexRotation(t *testing.T) {
	m := testManager(t, Config{RotateDuration: 2e9})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthStream(7000), true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	files := recordingFiles(t, m.cfg.Dir)
	list := m.List()
	if len(files) != 4 || len(list) != 4 || m.idx.size() != 4 {
		t.Fatalf("%d files, %d listed, %d indexed; want 4", len(files), len(list), m.idx.size())
	}
	for _, in := range list {
		pf := parseFile(t, filepath.Join(m.cfg.Dir, filepath.FromSlash(in.File)))
		if !in.Complete || in.Size != pf.size || in.Duration != pf.md.Duration || in.Duration == 0 {
			t.Fatalf("%s: index %+v, file %d bytes, %v s", in.File, in, pf.size, pf.md.Duration)
		}
	}
	if in, err := m.Lookup("app", "cam"); err != nil || in.File != relOf(t, m, r.Path()) {
		t.Fatalf("Lookup = %+v, %v; want the last file %s", in, err, r.Path())
	}
}

// TestIndexRescanForget (A): files copied in appear after Rescan, deleted ones
// go with Rescan or Forget, and the index holds one entry per file on disk.
func TestIndexRescanForget(t *testing.T) {
	m := testManager(t, Config{})
	a := record(t, m, "app", "cam", 2000)
	copied := filepath.Join(m.cfg.Dir, "app", "copied.flv")
	copyFile(t, a, copied)
	if err := os.WriteFile(filepath.Join(m.cfg.Dir, "app", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup("app", "copied.flv"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("copied file found before Rescan: %v", err)
	}
	if err := m.Rescan(); err != nil {
		t.Fatal(err)
	}
	if in, err := m.Lookup("app", "copied.flv"); err != nil || !in.Complete {
		t.Fatalf("after Rescan: %+v, %v", in, err)
	}
	if n := m.idx.size(); n != len(recordingFiles(t, m.cfg.Dir)) {
		t.Fatalf("%d entries for %d files", n, len(recordingFiles(t, m.cfg.Dir)))
	}
	m.Forget("app/copied.flv")
	if _, err := m.Lookup("app", "copied.flv"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Forget: %v", err)
	}
	if err := m.Rescan(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(copied); err != nil {
		t.Fatal(err)
	}
	if err := m.Rescan(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup("app", "copied.flv"); !errors.Is(err, ErrNotFound) || m.idx.size() != 1 {
		t.Fatalf("deleted file after Rescan: %v, %d entries", err, m.idx.size())
	}
	// A recording being written keeps its entry through a Rescan.
	r, err := m.Start("app", "live")
	if err != nil {
		t.Fatal(err)
	}
	tags := synthStream(3000)
	feed(t, r, tags[:20], true)
	if !waitUntil(recordTimeout, func() bool { _, err := m.Lookup("app", "live"); return err == nil }) {
		t.Fatal("recording never indexed")
	}
	if err := m.Rescan(); err != nil {
		t.Fatal(err)
	}
	feed(t, r, tags[20:], false)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if in, err := m.Lookup("app", "live"); err != nil || !in.Complete || in.Duration == 0 {
		t.Fatalf("after Rescan mid-recording: %+v, %v", in, err)
	}
}

// TestSymlinksStayOutside (B): a symbolic link to a file and one to a directory
// outside the record directory are neither listed, found nor opened, nor
// written through; a link inside is not a recording either.
func TestSymlinksStayOutside(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "elsewhere")
	secret := record(t, NewManager(Config{Dir: outside, Logger: quietLogger()}), "live", "secret", 1000)
	dir := filepath.Join(base, "rec")
	m := testManager(t, Config{Dir: dir})
	real := record(t, m, "live", "cam", 1000)
	links := map[string]string{
		filepath.Join(dir, "live", "link.flv"):   secret,
		filepath.Join(dir, "linkdir"):            filepath.Dir(secret),
		filepath.Join(dir, "live", "inner.flv"):  real,
		filepath.Join(dir, "live", "dangle.flv"): filepath.Join(base, "nothing.flv"),
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	if _, err := m.Open(); err != nil {
		t.Fatal(err)
	}
	list := m.List()
	if len(list) != 1 || list[0].File != relOf(t, m, real) || m.idx.size() != 1 {
		t.Fatalf("List = %+v (%d entries); want only %s", list, m.idx.size(), real)
	}
	for _, c := range [][2]string{{"live", "link.flv"}, {"live", "inner.flv"}, {"live", "dangle.flv"},
		{"linkdir", filepath.Base(secret)}, {"linkdir", "secret"}, {"live", "secret"}} {
		if in, err := m.Lookup(c[0], c[1]); err == nil {
			t.Errorf("Lookup(%s, %s) = %+v", c[0], c[1], in)
		}
		if p, err := m.Find(c[0], c[1]); err == nil {
			t.Errorf("Find(%s, %s) = %s", c[0], c[1], p)
		}
	}
	for _, name := range []string{"live/link.flv", "linkdir/" + filepath.Base(secret), "live/inner.flv", "live/dangle.flv"} {
		if f, err := m.OpenRecording(name); !errors.Is(err, ErrBadName) {
			if f != nil {
				_ = f.Close()
			}
			t.Errorf("OpenRecording(%s) = %v; want ErrBadName", name, err)
		}
	}
	rel, _ := filepath.Rel(dir, secret)
	for _, name := range []string{filepath.ToSlash(rel), "../elsewhere/live/x.flv", "/etc/passwd", "", "a\x00.flv", `live\x.flv`} {
		if _, err := m.OpenRecording(name); !errors.Is(err, ErrBadName) {
			t.Errorf("OpenRecording(%q) = %v; want ErrBadName", name, err)
		}
	}
	if _, err := m.Find("live", "../../elsewhere/live/"+filepath.Base(secret)); !errors.Is(err, ErrBadName) {
		t.Errorf("Find(../..) = %v; want ErrBadName", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "live", "dir.flv"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenRecording("live/dir.flv"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRecording(directory) = %v; want ErrNotFound", err)
	}
	f, err := m.OpenRecording(relOf(t, m, real))
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, flvmux.FileHeaderSize+flvmux.PrevTagSizeLen)
	_, err = io.ReadFull(f, head)
	_ = f.Close()
	if _, n, herr := flvmux.ReadFileHeader(head); err != nil || herr != nil || n == 0 {
		t.Fatalf("the real recording does not read as FLV: %v, %v", err, herr)
	}
	// A recording of an app whose folder is a link out is not written there.
	r, err := m.Start("linkdir", "cam")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err == nil {
		t.Fatalf("recording written through a link out of the record directory: %s", r.Path())
	}
	if files := recordingFiles(t, filepath.Dir(secret)); len(files) != 1 {
		t.Fatalf("files outside: %v", files)
	}
}

// TestTimestampsPast2to31 (D): a recording whose timestamps run past 2^31 ms
// of the file (and through the source's 2^32 wrap) keeps increasing timestamps,
// in the tags and in the keyframe index.
func TestTimestampsPast2to31(t *testing.T) {
	m := testManager(t, Config{})
	r, err := m.Start("app", "long")
	if err != nil {
		t.Fatal(err)
	}
	const origin = 0xF000_0000
	const step = 1 << 29 // about 6.2 days between keyframes
	head := synthStream(0)
	for i := range head {
		head[i].ts = origin
	}
	tags := head
	var want []uint32
	for k := range 7 {
		ts := uint32(origin + uint64(k)*step)
		rel := uint32(uint64(k) * step)
		tags = append(tags,
			synthTag{flvmux.TagVideo, ts, synthVideo(true, synthKeySize, k)},
			synthTag{flvmux.TagAudio, ts + 20, synthAudio(synthAudioSize, k)},
			synthTag{flvmux.TagAudio, ts + 10, synthAudio(synthAudioSize, k)}, // a little behind
			synthTag{flvmux.TagVideo, ts + 40, synthVideo(false, synthInterSize, k)})
		want = append(want, rel, rel+20, rel+10, rel+40)
	}
	feed(t, r, tags, true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	pf := checkPlayable(t, r.Path())
	media := pf.tags[3:]
	if len(media) != len(want) {
		t.Fatalf("%d media tags, want %d", len(media), len(want))
	}
	for i, tg := range media {
		if tg.ts != want[i] {
			t.Fatalf("tag %d at %d ms, want %d", i, tg.ts, want[i])
		}
	}
	checkIndex(t, r.Path(), pf)
	k := pf.md.Keyframes.Times
	if len(k) != 7 || k[6] != float64(6*step)/1000 {
		t.Fatalf("keyframe index %v", k)
	}
	if want := float64(6*step+40+40) / 1000; math.Abs(pf.md.Duration-want) > 0.001 {
		t.Fatalf("duration %v s, want %v", pf.md.Duration, want)
	}
}

// TestOpenRepairsAndIndexes (E): after a kill -9 and a restart, one walk repairs
// the unfinished recording and indexes it with the finished ones.
func TestOpenRepairsAndIndexes(t *testing.T) {
	base := t.TempDir()
	src := testManager(t, Config{Dir: filepath.Join(base, "src"), FlushInterval: 3600e9})
	dir := filepath.Join(base, "rec")
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	finished := record(t, src, "app", "cam", 3000)
	copyFile(t, finished, filepath.Join(dir, "app", filepath.Base(finished)))
	crashed := filepath.Join(dir, "app", "crash-1.flv")
	crashCopy(t, src, 6000, crashed)
	st, _ := os.Stat(crashed)
	if err := os.Truncate(crashed, st.Size()-100); err != nil { // a torn last tag
		t.Fatal(err)
	}

	m := testManager(t, Config{Dir: dir})
	if _, err := m.Lookup("app", "crash"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup before Open = %v; the index starts empty", err)
	}
	n, err := m.Open()
	if err != nil || n != 1 {
		t.Fatalf("Open = %d, %v; want 1 repaired", n, err)
	}
	in, err := m.Lookup("app", "crash")
	if err != nil || in.File != "app/crash-1.flv" || !in.Complete || in.App != "app" {
		t.Fatalf("Lookup(app, crash) = %+v, %v", in, err)
	}
	pf := parseFile(t, crashed)
	if !pf.md.Complete || pf.end != pf.size || in.Size != pf.size || in.Duration != pf.md.Duration ||
		math.Abs(in.Duration-(5.96+0.04)) > 0.05 {
		t.Fatalf("index %+v; file complete=%v size=%d duration=%v", in, pf.md.Complete, pf.size, pf.md.Duration)
	}
	if in, err := m.Lookup("app", "cam"); err != nil || !in.Complete || math.Abs(in.Duration-3) > 0.05 {
		t.Fatalf("Lookup(app, cam) = %+v, %v", in, err)
	}
	if p, err := m.Find("app", "crash-1.flv"); err != nil || p != crashed {
		t.Fatalf("Find(app, crash-1.flv) = %q, %v", p, err)
	}
	if list := m.List(); len(list) != 2 {
		t.Fatalf("List = %+v", list)
	}
	if n, err := m.Open(); err != nil || n != 0 {
		t.Fatalf("second Open = %d, %v; want 0", n, err)
	}
	// A missing record directory is an empty index.
	if n, err := testManager(t, Config{Dir: filepath.Join(base, "none")}).Open(); err != nil || n != 0 {
		t.Fatalf("Open of a missing directory = %d, %v", n, err)
	}
}

// TestIndexConcurrent: lookups from many goroutines while recordings start,
// rotate and finish and the directory is rescanned (run with -race).
func TestIndexConcurrent(t *testing.T) {
	m := testManager(t, Config{RotateDuration: 1e9})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = m.Lookup("app", "cam")
				_, _ = m.Find("app", "cam-x.flv")
				_ = m.List()
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := m.Rescan(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 3 {
		record(t, m, "app", "cam", 4000)
	}
	close(stop)
	wg.Wait()
	if err := m.Rescan(); err != nil {
		t.Fatal(err)
	}
	list := m.List()
	if files := recordingFiles(t, m.cfg.Dir); len(list) != len(files) || len(files) != 12 {
		t.Fatalf("%d listed, %d files; want 12", len(list), len(files))
	}
}

func TestFileBefore(t *testing.T) {
	order := []string{"app/cam-20261124-012841.flv", "app/cam-20261124-012841-1.flv",
		"app/cam-20261124-012841-2.flv", "app/cam-20261124-012841-10.flv", "app/cam-20261124-012842.flv"}
	for i := range order {
		for j := range order {
			if got := fileBefore(order[i], order[j]); got != (i < j) {
				t.Errorf("fileBefore(%s, %s) = %v", order[i], order[j], got)
			}
		}
	}
}
