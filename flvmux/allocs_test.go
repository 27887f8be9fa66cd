//go:build !race

package flvmux

import "testing"

// Allocation budgets. AllocsPerRun is only meaningful without -race.

func TestAllocsAppend(t *testing.T) {
	data := make([]byte, 64<<10)
	dst := make([]byte, 0, TagSize(len(data))+4096)
	md := fullMetadata
	for name, f := range map[string]func(){
		"AppendTag":        func() { dst = AppendTag(dst[:0], TagVideo, 1234, data) },
		"AppendFileHeader": func() { dst = AppendFileHeader(dst[:0], true, true) },
		"AppendTagHeader":  func() { dst = AppendTagHeader(dst[:0], TagAudio, 10, 20) },
		"AppendOnMetaData": func() { dst = AppendOnMetaData(dst[:0], &md) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs, want 0", name, n)
		}
	}
}

func TestAllocsReaderFeed(t *testing.T) {
	capture := loadCapture(t)
	var r Reader
	feedAll := func(chunks [][]byte) {
		r.Reset()
		for _, p := range chunks {
			for len(p) > 0 {
				n, _, err := r.Feed(p)
				if err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
		}
	}
	whole := [][]byte{capture}
	small := splitEvery(capture, 100) // forces the buffered (slow) path
	feedAll(small)                    // warm the internal buffer
	if n := testing.AllocsPerRun(20, func() { feedAll(whole) }); n != 0 {
		t.Errorf("Feed (whole tags): %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(20, func() { feedAll(small) }); n != 0 {
		t.Errorf("Feed (split tags): %v allocs, want 0", n)
	}
}

func TestAllocsHeaders(t *testing.T) {
	var sink bool
	if n := testing.AllocsPerRun(10, func() {
		for _, c := range videoCases {
			h, _ := ReadVideoHeader(c.wire)
			sink = sink != h.IsKeyframe() != IsVideoKeyframe(c.wire) != IsVideoSequenceHeader(c.wire)
		}
		for _, c := range audioCases {
			h, _ := ReadAudioHeader(c.wire)
			sink = sink != h.IsSequenceHeader() != IsAudioSequenceHeader(c.wire)
		}
		for _, c := range tagHeaderCases {
			h, _, _ := ReadTagHeader(c.wire)
			sink = sink != h.Filter
		}
		for _, c := range fileHeaderCases {
			h, _, _ := ReadFileHeader(c.wire)
			sink = sink != h.HasAudio
		}
	}); n != 0 {
		t.Errorf("header parsing: %v allocs, want 0", n)
	}
	_ = sink
}

func TestAllocsReadOnMetaData(t *testing.T) {
	body := AppendOnMetaData(nil, &fullMetadata)
	doc := newDoc()
	var md Metadata
	if err := ReadOnMetaData(body, doc, &md); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = ReadOnMetaData(body, doc, &md) }); n != 0 {
		t.Errorf("ReadOnMetaData steady state: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = StripSetDataFrame(body) }); n != 0 {
		t.Errorf("StripSetDataFrame: %v allocs, want 0", n)
	}
}
