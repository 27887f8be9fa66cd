package recorder

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/quaverlive/quaver/flvmux"
)

// recordFile records durMs of the synthetic stream with m and returns the
// file's Info.File and path.
func recordFile(t testing.TB, m *Manager, durMs int) (rel, path string) {
	t.Helper()
	r, err := m.Start("app", "vod")
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthStream(durMs), true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	in, err := m.Lookup("app", "vod")
	if err != nil {
		t.Fatal(err)
	}
	return in.File, r.Path()
}

// writeTemp writes b to a new file in a temporary directory and returns its path.
func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.flv")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// openPath opens path with OpenFile and closes the File when the test ends.
func openPath(t testing.TB, path string) *File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	vf, err := OpenFile(f, filepath.Base(path))
	if err != nil {
		t.Fatalf("OpenFile(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = vf.Close() })
	return vf
}

// rewriteIndex rewrites the keyframe index in the reserved metadata of the
// recording at path (in place, same size) with what edit makes of it.
func rewriteIndex(t testing.TB, path string, edit func(k flvmux.Keyframes) flvmux.Keyframes) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md, bodyOff, bodyLen, ours, err := headerInfoFile(f, path)
	if err != nil || !ours {
		t.Fatalf("%s: metadata: ours=%v err=%v", path, ours, err)
	}
	md.Keyframes = edit(md.Keyframes)
	body, err := encodeMeta(nil, &md, bodyLen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(body, bodyOff); err != nil {
		t.Fatal(err)
	}
}

// scanKeyframe is what KeyframeAt(ms) must return from a scan of pf's tags:
// the last keyframe at or before ms, the first one when none is, and
// (firstTag, -1) without keyframes.
func scanKeyframe(pf parsedFile, firstTag int64, ms float64) (int64, int64) {
	pos, ts := firstTag, int64(-1)
	for _, tg := range pf.tags {
		if !tg.key {
			continue
		}
		if ts >= 0 && float64(tg.ts) > ms {
			break
		}
		pos, ts = tg.pos, int64(tg.ts)
	}
	return pos, ts
}

// tagAt returns the parsed tag starting at pos.
func tagAt(t testing.TB, pf parsedFile, pos int64) parsedTag {
	t.Helper()
	for _, tg := range pf.tags {
		if tg.pos == pos {
			return tg
		}
	}
	t.Fatalf("no tag starts at %d", pos)
	return parsedTag{}
}

// readTags reads tags from the cursor's position to the end and returns them
// (copied) with the error that ended them.
func readTags(tr *TagReader) ([]parsedTag, error) {
	var out []parsedTag
	for {
		tg, pos, err := tr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, parsedTag{typ: tg.Type, ts: tg.Timestamp, pos: pos, data: append([]byte(nil), tg.Data...)})
	}
}

func sameTags(t testing.TB, got, want []parsedTag) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tags, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.typ != w.typ || g.ts != w.ts || g.pos != w.pos || !bytes.Equal(g.data, w.data) {
			t.Fatalf("tag %d: type %d ts %d @%d (%d bytes), want type %d ts %d @%d (%d bytes)",
				i, g.typ, g.ts, g.pos, len(g.data), w.typ, w.ts, w.pos, len(w.data))
		}
	}
}

func TestOpenFileRecording(t *testing.T) {
	m := testManager(t, Config{})
	rel, path := recordFile(t, m, 5000)
	pf := checkPlayable(t, path)
	f, err := m.OpenRecording(rel)
	if err != nil {
		t.Fatal(err)
	}
	vf, err := OpenFile(f, rel)
	if err != nil {
		t.Fatal(err)
	}
	if vf.Name() != rel || vf.Size() != pf.size {
		t.Fatalf("Name, Size = %q, %d; want %q, %d", vf.Name(), vf.Size(), rel, pf.size)
	}
	if h := vf.Header(); !h.HasAudio || !h.HasVideo {
		t.Fatalf("Header = %+v", h)
	}
	md := vf.Metadata()
	if md.Duration != pf.md.Duration || md.Duration == 0 || md.Width != 640 || len(md.Keyframes.Times) != 5 {
		t.Fatalf("Metadata = %+v, want the file's (%+v)", md, pf.md.Metadata)
	}
	// OnMetaData is the name and the array, without the reserved padding.
	meta := vf.OnMetaData()
	if len(meta) == 0 || len(meta) >= len(pf.tags[0].data) || !bytes.Equal(meta, pf.tags[0].data[:len(meta)]) {
		t.Fatalf("OnMetaData is %d bytes, not a prefix of the %d-byte metadata tag", len(meta), len(pf.tags[0].data))
	}
	var again fileMeta
	if ours, err := readMeta(meta, &again); err != nil || !ours || again.Duration != md.Duration {
		t.Fatalf("OnMetaData does not decode: ours=%v err=%v", ours, err)
	}
	if vf.FirstTag() != pf.tags[1].pos {
		t.Fatalf("FirstTag = %d, want %d (the tag after the metadata)", vf.FirstTag(), pf.tags[1].pos)
	}
	// The sequence headers, in file order, at the timestamp asked for.
	got := vf.AppendSequenceHeaders([]byte("x"), 1234, flvmux.AppendTag)
	want := flvOf([]synthTag{{flvmux.TagVideo, 1234, synthAVCSeq}, {flvmux.TagAudio, 1234, synthAACSeq}}, false)
	if !bytes.Equal(got, append([]byte("x"), want...)) {
		t.Fatalf("AppendSequenceHeaders = %x\nwant x%x", got, want)
	}
	if err := vf.Close(); err != nil {
		t.Fatal(err)
	}
	if err := vf.Close(); err == nil {
		t.Fatal("second Close returned nil")
	}
	// What OpenFile read stays readable after Close.
	if vf.Metadata().Duration != md.Duration || !bytes.Equal(vf.OnMetaData(), meta) || vf.Size() != pf.size {
		t.Fatal("immutable fields changed by Close")
	}
}

func TestTagReader(t *testing.T) {
	m := testManager(t, Config{})
	_, recorded := recordFile(t, m, 5000)
	// Tags larger than a read, and a file without metadata.
	big := synthStream(3000)
	big = append(big[1:3:3], synthTag{flvmux.TagVideo, 0, synthVideo(true, 3*ReadBufferSize+7, 0)},
		synthTag{flvmux.TagAudio, 10, synthAudio(ReadBufferSize-3, 1)},
		synthTag{flvmux.TagVideo, 40, synthVideo(false, ReadBufferSize, 2)},
		synthTag{flvmux.TagVideo, 80, synthVideo(true, 2*ReadBufferSize, 3)})
	bigPath := writeTemp(t, flvOf(big, true))
	for _, c := range []struct {
		name  string
		path  string
		first int // index in the parsed tags of the first tag after the metadata
	}{
		{"recording", recorded, 1},
		{"big tags, no metadata", bigPath, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			pf := parseFile(t, c.path)
			vf := openPath(t, c.path)
			if vf.FirstTag() != pf.tags[c.first].pos {
				t.Fatalf("FirstTag = %d, want %d", vf.FirstTag(), pf.tags[c.first].pos)
			}
			tr := vf.Tags()
			tr.SeekTag(vf.FirstTag())
			got, err := readTags(tr)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("tags end with %v, want io.EOF", err)
			}
			sameTags(t, got, pf.tags[c.first:])
			if _, _, err := tr.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("Next after the end: %v, want io.EOF", err)
			}
			// SeekTag to any tag reads on from there.
			for i := c.first; i < len(pf.tags); i += 7 {
				tr.SeekTag(pf.tags[i].pos)
				got, err := readTags(tr)
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				sameTags(t, got, pf.tags[i:])
			}
			// The returned tag is the reader's: valid until Next, then reused.
			tr.SeekTag(vf.FirstTag())
			t1, _, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if t1.Timestamp != pf.tags[c.first].ts || !bytes.Equal(t1.Data, pf.tags[c.first].data) {
				t.Fatal("first tag differs after SeekTag")
			}
		})
	}
}

func TestKeyframeAt(t *testing.T) {
	m := testManager(t, Config{})
	_, recorded := recordFile(t, m, 5000)
	pf := parseFile(t, recorded)
	if len(pf.md.Keyframes.Times) != 5 {
		t.Fatalf("recording indexes %d keyframes, want 5", len(pf.md.Keyframes.Times))
	}
	variant := func(edit func(k flvmux.Keyframes) flvmux.Keyframes) string {
		p := filepath.Join(t.TempDir(), "v.flv")
		copyFile(t, recorded, p)
		rewriteIndex(t, p, edit)
		return p
	}
	thinned := thin(pf.md.Keyframes)
	plain := synthStream(5000) // the publisher's metadata has no index
	for _, c := range []struct {
		name string
		path string
		// index, when set, is the index KeyframeAt must follow; otherwise
		// it must find what a scan of the tags finds.
		index *flvmux.Keyframes
	}{
		{"right index", recorded, &pf.md.Keyframes},
		{"thinned index is followed", variant(func(flvmux.Keyframes) flvmux.Keyframes { return thinned }), &thinned},
		{"no index", writeTemp(t, flvOf(plain, true)), nil},
		{"no metadata", writeTemp(t, flvOf(plain[1:], true)), nil},
		{"positions off by one", variant(func(k flvmux.Keyframes) flvmux.Keyframes {
			for i := range k.FilePositions {
				k.FilePositions[i]++
			}
			return k
		}), nil},
		{"positions of other tags", variant(func(k flvmux.Keyframes) flvmux.Keyframes {
			for i := range k.FilePositions {
				k.FilePositions[i] = float64(pf.tags[4+i].pos) // audio and inter frames
			}
			return k
		}), nil},
		{"positions past the end", variant(func(k flvmux.Keyframes) flvmux.Keyframes {
			for i := range k.FilePositions {
				k.FilePositions[i] += 1 << 30
			}
			return k
		}), nil},
		{"unsorted times", variant(func(k flvmux.Keyframes) flvmux.Keyframes {
			k.Times[0], k.Times[1] = k.Times[1], k.Times[0]
			k.FilePositions[0], k.FilePositions[1] = k.FilePositions[1], k.FilePositions[0]
			return k
		}), nil},
		{"lengths differ", variant(func(k flvmux.Keyframes) flvmux.Keyframes {
			k.FilePositions = k.FilePositions[:len(k.FilePositions)-1]
			return k
		}), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			vf := openPath(t, c.path)
			tf := parseFile(t, c.path)
			for _, ms := range []float64{-1000, 0, 1, 999, 1000, 1001, 2500, 3999, 4000, 4999, 1e12} {
				wantPos, wantTS := scanKeyframe(tf, vf.FirstTag(), ms)
				if c.index != nil {
					i := 0
					for j, tm := range c.index.Times {
						if tm*1000 <= ms+0.5 {
							i = j
						}
					}
					wantPos = int64(c.index.FilePositions[i])
					wantTS = int64(tagAt(t, tf, wantPos).ts)
				}
				pos, ts := vf.KeyframeAt(ms)
				if pos != wantPos || ts != wantTS {
					t.Fatalf("KeyframeAt(%v) = @%d ts %d, want @%d ts %d", ms, pos, ts, wantPos, wantTS)
				}
				// The cursor is left at the keyframe.
				tg, at, err := vf.Tags().Next()
				if err != nil || at != pos || uint32(ts) != tg.Timestamp || !flvmux.IsVideoKeyframe(tg.Data) {
					t.Fatalf("KeyframeAt(%v) left the cursor at @%d (%v), want the keyframe @%d", ms, at, err, pos)
				}
			}
		})
	}
	t.Run("no keyframes", func(t *testing.T) {
		var tags []synthTag
		for i := range 50 {
			tags = append(tags, synthTag{flvmux.TagAudio, uint32(i * synthAudioMs), synthAudio(synthAudioSize, i)})
		}
		vf := openPath(t, writeTemp(t, flvOf(append([]synthTag{plain[0], plain[2]}, tags...), true)))
		for _, ms := range []float64{0, 500, 1e9} {
			if pos, ts := vf.KeyframeAt(ms); pos != vf.FirstTag() || ts != -1 {
				t.Fatalf("KeyframeAt(%v) = @%d ts %d, want @%d ts -1", ms, pos, ts, vf.FirstTag())
			}
		}
	})
}

func TestOpenFileSequenceHeaders(t *testing.T) {
	md := synthStream(0)[0]
	avc2 := append([]byte(nil), synthAVCSeq...)
	avc2[len(avc2)-1] ^= 0xff // a different configuration
	key := synthTag{flvmux.TagVideo, 0, synthVideo(true, synthKeySize, 0)}
	audio := synthTag{flvmux.TagAudio, 0, synthAudio(synthAudioSize, 0)}
	aac := synthTag{flvmux.TagAudio, 0, synthAACSeq}
	avc := synthTag{flvmux.TagVideo, 0, synthAVCSeq}
	huge := synthTag{flvmux.TagAudio, 0, synthAudio(HeadScanBytes/4, 0)}
	for _, c := range []struct {
		name string
		tags []synthTag
		want []synthTag
	}{
		{"before the first keyframe only", []synthTag{md, aac, audio, avc, key, {flvmux.TagVideo, 40, avc2}, aac}, []synthTag{aac, avc}},
		{"without metadata", []synthTag{avc, aac, key}, []synthTag{avc, aac}},
		{"none", []synthTag{md, key, avc, aac}, nil},
		{"no keyframe: to the end", []synthTag{md, audio, aac, audio, avc}, []synthTag{aac, avc}},
		{"not beyond HeadScanBytes", []synthTag{md, aac, huge, huge, huge, huge, huge, avc, key}, []synthTag{aac}},
	} {
		t.Run(c.name, func(t *testing.T) {
			vf := openPath(t, writeTemp(t, flvOf(c.tags, true)))
			got := vf.AppendSequenceHeaders(nil, 77, flvmux.AppendTag)
			var want []byte
			for _, s := range c.want {
				want = flvmux.AppendTag(want, s.typ, 77, s.data)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("sequence headers:\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestOpenFileTruncated(t *testing.T) {
	m := testManager(t, Config{})
	_, recorded := recordFile(t, m, 5000)
	whole, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	pf := parseFile(t, recorded)
	var keys []parsedTag
	for _, tg := range pf.tags {
		if tg.key {
			keys = append(keys, tg)
		}
	}
	last := keys[len(keys)-1]

	t.Run("torn tag", func(t *testing.T) {
		// Cut inside the tag before the last keyframe: the index's last
		// entry points past the end, the tags end with the last whole one.
		cut := last.pos - 100
		path := writeTemp(t, whole[:cut])
		cf := parseFile(t, path)
		vf := openPath(t, path)
		if vf.Size() != cut || vf.Metadata().Duration != pf.md.Duration {
			t.Fatalf("Size %d, duration %v", vf.Size(), vf.Metadata().Duration)
		}
		tr := vf.Tags()
		tr.SeekTag(vf.FirstTag())
		got, err := readTags(tr)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("tags end with %v, want io.EOF", err)
		}
		sameTags(t, got, cf.tags[1:])
		if end := got[len(got)-1]; end.pos+flvmux.TagHeaderSize+int64(len(end.data)) > cut {
			t.Fatal("a torn tag was returned")
		}
		prev := keys[len(keys)-2]
		if pos, ts := vf.KeyframeAt(1e9); pos != prev.pos || ts != int64(prev.ts) {
			t.Fatalf("KeyframeAt(end) = @%d ts %d, want the last whole keyframe @%d ts %d", pos, ts, prev.pos, prev.ts)
		}
	})
	t.Run("cut in the last tag's size", func(t *testing.T) {
		vf := openPath(t, writeTemp(t, whole[:len(whole)-2]))
		tr := vf.Tags()
		tr.SeekTag(vf.FirstTag())
		got, err := readTags(tr)
		if !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		sameTags(t, got, pf.tags[1:])
	})
	for _, c := range []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"inside the FLV header", 5},
		{"header only", flvmux.FileHeaderSize + flvmux.PrevTagSizeLen},
		{"inside the metadata tag", 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(writeTemp(t, whole[:c.n]))
			if err != nil {
				t.Fatal(err)
			}
			vf, err := OpenFile(f, "cut.flv")
			if !errors.Is(err, ErrNotFLV) || !errors.Is(err, io.EOF) || vf != nil {
				t.Fatalf("OpenFile = %v, %v; want ErrNotFLV wrapping io.EOF", vf, err)
			}
			if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("the file was not closed: %v", err)
			}
		})
	}
}

func TestOpenFileRefusesNonFLV(t *testing.T) {
	hdr := flvmux.AppendFileHeader(nil, true, true)
	for _, c := range []struct {
		name  string
		data  []byte
		cause error
	}{
		{"text", []byte("#EXTM3U\n#EXT-X-VERSION:3\nsegment0.ts\n"), flvmux.ErrBadSignature},
		{"mp4", append([]byte{0, 0, 0, 0x20}, "ftypisom\x00\x00\x02\x00isomiso2avc1mp41"...), flvmux.ErrBadSignature},
		{"bad data offset", []byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 3, 0, 0, 0, 0}, flvmux.ErrBadDataOffset},
		{"bad tag type", append(hdr, 0x0b, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), flvmux.ErrTagType},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := os.Open(writeTemp(t, c.data))
			if err != nil {
				t.Fatal(err)
			}
			vf, err := OpenFile(f, "x.flv")
			if !errors.Is(err, ErrNotFLV) || !errors.Is(err, c.cause) || vf != nil {
				t.Fatalf("OpenFile = %v, %v; want ErrNotFLV wrapping %v", vf, err, c.cause)
			}
			if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
				t.Fatalf("the file was not closed: %v", err)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		f, err := os.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if vf, err := OpenFile(f, "dir.flv"); !errors.Is(err, ErrNotFound) || vf != nil {
			t.Fatalf("OpenFile(directory) = %v, %v; want ErrNotFound", vf, err)
		}
		if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("the directory was not closed: %v", err)
		}
	})
}

// TestFileImmutableFromOtherGoroutines reads what OpenFile read from other
// goroutines while the owner reads tags and keyframes (for -race).
func TestFileImmutableFromOtherGoroutines(t *testing.T) {
	m := testManager(t, Config{})
	_, path := recordFile(t, m, 3000)
	vf := openPath(t, path)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 200 {
				if vf.Metadata().Duration == 0 || len(vf.OnMetaData()) == 0 || vf.Size() == 0 || vf.FirstTag() == 0 ||
					len(vf.AppendSequenceHeaders(nil, 0, flvmux.AppendTag)) == 0 || !vf.Header().HasVideo || vf.Name() == "" {
					t.Error("immutable field missing")
					return
				}
			}
		})
	}
	for _, ms := range []float64{0, 1500, 2500, 0} {
		vf.KeyframeAt(ms)
		if _, err := readTags(vf.Tags()); !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// FuzzOpenFile opens arbitrary bytes as a recording and reads all its tags and
// a keyframe: no panic, OpenFile fails only with ErrNotFLV, and every read
// stays inside the file, with tags in increasing file order.
func FuzzOpenFile(f *testing.F) {
	small := synthStream(1200)
	f.Add(flvOf(small, true), 500.0)
	f.Add(flvOf(small[1:], true), 1e9)
	f.Add(flvOf(small[:4], true), 0.0)
	f.Add(flvmux.AppendFileHeader(nil, false, true), 0.0)
	f.Add([]byte("FLV"), 0.0)
	f.Add([]byte{}, 0.0)
	f.Add(append(flvmux.AppendFileHeader(nil, true, true), 9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3), 0.0)
	{
		// A Quaver recording with a small reserved metadata tag, whole and torn.
		m := NewManager(Config{Dir: f.TempDir(), IndexCapacity: 4, Logger: quietLogger()})
		_, path := recordFile(f, m, 2500)
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, 1500.0)
		f.Add(b[:len(b)*2/3], 1e12)
	}
	// One file per fuzz worker, rewritten by each run (runs of a worker are
	// sequential).
	path := filepath.Join(f.TempDir(), "fuzz.flv")
	f.Fuzz(func(t *testing.T, data []byte, ms float64) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		vf, err := OpenFile(fd, "fuzz.flv")
		if err != nil {
			if !errors.Is(err, ErrNotFLV) {
				t.Fatalf("OpenFile: %v, want ErrNotFLV", err)
			}
			return
		}
		defer vf.Close()
		size := int64(len(data))
		if vf.Size() != size || vf.FirstTag() < flvmux.FileHeaderSize || vf.FirstTag() > size+flvmux.PrevTagSizeLen || len(vf.OnMetaData()) > len(data) {
			t.Fatalf("Size %d, FirstTag %d, OnMetaData %d bytes for %d bytes", vf.Size(), vf.FirstTag(), len(vf.OnMetaData()), size)
		}
		if n := len(vf.AppendSequenceHeaders(nil, 0, flvmux.AppendTag)); n > 2*len(data) {
			t.Fatalf("%d bytes of sequence headers from %d bytes", n, len(data))
		}
		// A file cut right after its metadata tag has FirstTag past its end
		// (by the missing PreviousTagSize): no tags, no keyframe.
		tr := vf.Tags()
		tr.SeekTag(vf.FirstTag())
		prevEnd, count := vf.FirstTag(), 0
		for {
			tg, pos, err := tr.Next()
			if err != nil {
				break
			}
			end := pos + flvmux.TagHeaderSize + int64(tg.DataSize)
			if pos < prevEnd || end > size || int(tg.DataSize) != len(tg.Data) || tg.DataSize > MaxTagSize {
				t.Fatalf("tag @%d..%d (%d bytes of data) after %d in a %d-byte file", pos, end, len(tg.Data), prevEnd, size)
			}
			prevEnd = end
			if count++; count > len(data)/flvmux.TagHeaderSize+1 {
				t.Fatal("more tags than the file can hold")
			}
		}
		if tr.off > max(size, vf.FirstTag()) || cap(tr.buf) != ReadBufferSize {
			t.Fatalf("read up to %d of a %d-byte file, buffer %d", tr.off, size, cap(tr.buf))
		}
		pos, ts := vf.KeyframeAt(ms)
		if ts < 0 {
			if pos != vf.FirstTag() {
				t.Fatalf("KeyframeAt without keyframe = @%d, want FirstTag %d", pos, vf.FirstTag())
			}
			return
		}
		if pos < vf.FirstTag() || pos >= size {
			t.Fatalf("KeyframeAt = @%d outside [%d, %d)", pos, vf.FirstTag(), size)
		}
		// A whole keyframe tag at pos is the one found.
		if tg, at, err := tr.Next(); err == nil && (at != pos || tg.Type != flvmux.TagVideo || int64(tg.Timestamp) != ts) {
			t.Fatalf("KeyframeAt = @%d ts %d, the cursor reads type %d ts %d @%d", pos, ts, tg.Type, tg.Timestamp, at)
		}
	})
}
