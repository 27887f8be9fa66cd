package flvmux

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// fuzzMaxTagSize is the small tag limit FuzzReader uses to check that
// memory stays bounded by it.
const fuzzMaxTagSize = 1024

// readAllOnce reads chunks with a fresh Reader and returns the tags, the
// error and the Reader.
func readAllOnce(t *testing.T, skip bool, chunks [][]byte) ([]Tag, error, *Reader) {
	r := &Reader{MaxTagSize: fuzzMaxTagSize, SkipFileHeader: skip}
	tags, err := collect(t, r, chunks)
	for _, tag := range tags {
		if tag.DataSize > fuzzMaxTagSize {
			t.Fatalf("tag of %d bytes passed MaxTagSize", tag.DataSize)
		}
	}
	// The buffer grows only with received bytes, up to the tag limit.
	if cap(r.buf) > 4*fuzzMaxTagSize {
		t.Fatalf("internal buffer capacity %d", cap(r.buf))
	}
	return tags, err, r
}

func FuzzReader(f *testing.F) {
	for i, c := range readerCases(f) {
		f.Add(c.wire, uint64(i), c.skipHeader)
	}
	f.Add(muxTags(nil, tagKey, tagEmpty), uint64(7), true)
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, skip bool) {
		whole, errWhole, r := readAllOnce(t, skip, [][]byte{data})
		// Split invariance.
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		split, errSplit, r2 := readAllOnce(t, skip, splitRandom(data, rng))
		if !errors.Is(errSplit, errWhole) || (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("errors differ: whole %v, split %v", errWhole, errSplit)
		}
		if !tagsEqual(whole, split) {
			t.Fatalf("tags differ: whole %d, split %d", len(whole), len(split))
		}
		if r.PrevTagSizeMismatches() != r2.PrevTagSizeMismatches() || r.Buffered() != r2.Buffered() {
			t.Fatalf("state differs: mismatches %d/%d buffered %d/%d",
				r.PrevTagSizeMismatches(), r2.PrevTagSizeMismatches(), r.Buffered(), r2.Buffered())
		}
		h1, ok1 := r.Header()
		h2, ok2 := r2.Header()
		if h1 != h2 || ok1 != ok2 {
			t.Fatal("headers differ")
		}

		// Round trip: re-mux the tags and read them back.
		var out []byte
		if !skip {
			out = AppendFileHeader(out, h1.HasAudio, h1.HasVideo)
		}
		for _, tag := range whole {
			out = AppendTag(out, tag.Type, tag.Timestamp, tag.Data)
		}
		again, err, r3 := readAllOnce(t, skip, [][]byte{out})
		if err != nil || r3.PrevTagSizeMismatches() != 0 || r3.Buffered() != 0 {
			t.Fatalf("re-read: %v, %d mismatches, %d buffered", err, r3.PrevTagSizeMismatches(), r3.Buffered())
		}
		if len(again) != len(whole) {
			t.Fatalf("re-read %d tags, want %d", len(again), len(whole))
		}
		for i := range whole {
			a, b := again[i], whole[i]
			if a.Type != b.Type || a.Timestamp != b.Timestamp || a.DataSize != b.DataSize || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tag %d: re-read %+v, want %+v", i, a.TagHeader, b.TagHeader)
			}
		}
	})
}

func FuzzVideoHeader(f *testing.F) {
	for _, c := range videoCases {
		f.Add(c.wire)
	}
	for _, tag := range captureTags(f) {
		if tag.Type == TagVideo {
			f.Add(tag.Data[:min(len(tag.Data), 32)])
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ReadVideoHeader(p)
		h2, err2 := ReadVideoHeader(p)
		if h != h2 || err != err2 {
			t.Fatal("parse is not deterministic")
		}
		if IsVideoKeyframe(p) != (err == nil && h.IsKeyframe()) ||
			IsVideoSequenceHeader(p) != (err == nil && h.IsSequenceHeader()) {
			t.Fatalf("fast helpers disagree with %+v, %v", h, err)
		}
		if err != nil {
			if err != ErrShortVideoHeader {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.HeaderLen < 1 || h.HeaderLen > len(p) {
			t.Fatalf("HeaderLen %d of %d bytes", h.HeaderLen, len(p))
		}
		// The header depends only on its own bytes.
		if h3, err := ReadVideoHeader(p[:h.HeaderLen]); err != nil || h3 != h {
			t.Fatalf("header prefix parses to %+v, %v", h3, err)
		}
		_ = h.Known()
		_ = h.FourCC.String()
	})
}

func FuzzAudioHeader(f *testing.F) {
	for _, c := range audioCases {
		f.Add(c.wire)
	}
	for _, tag := range captureTags(f) {
		if tag.Type == TagAudio {
			f.Add(tag.Data[:min(len(tag.Data), 16)])
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ReadAudioHeader(p)
		h2, err2 := ReadAudioHeader(p)
		if h != h2 || err != err2 {
			t.Fatal("parse is not deterministic")
		}
		if IsAudioSequenceHeader(p) != (err == nil && h.IsSequenceHeader()) {
			t.Fatalf("fast helper disagrees with %+v, %v", h, err)
		}
		if err != nil {
			if err != ErrShortAudioHeader {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if h.HeaderLen < 1 || h.HeaderLen > len(p) {
			t.Fatalf("HeaderLen %d of %d bytes", h.HeaderLen, len(p))
		}
		if h3, err := ReadAudioHeader(p[:h.HeaderLen]); err != nil || h3 != h {
			t.Fatalf("header prefix parses to %+v, %v", h3, err)
		}
		_ = h.Known()
		_ = h.FourCC.String()
	})
}

func FuzzOnMetaData(f *testing.F) {
	for _, c := range metadataCases {
		f.Add(c.wire)
	}
	for _, tag := range captureTags(f) {
		if tag.Type == TagScript {
			f.Add(tag.Data)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc := newDoc()
		var md Metadata
		if err := ReadOnMetaData(body, doc, &md); err != nil {
			if !errors.Is(err, ErrBadMetadata) && !errors.Is(err, ErrNotOnMetaData) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		enc := AppendOnMetaData(nil, &md)
		var md2 Metadata
		if err := ReadOnMetaData(enc, doc, &md2); err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !metadataEqual(&md, &md2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", md, md2)
		}
		if enc2 := AppendOnMetaData(nil, &md2); !bytes.Equal(enc, enc2) {
			t.Fatal("re-encoding differs")
		}
	})
}

// captureTags returns the tags of the committed ffmpeg capture.
func captureTags(f *testing.F) []Tag {
	var r Reader
	tags, err := collect(f, &r, [][]byte{loadCapture(f)})
	if err != nil {
		f.Fatal(err)
	}
	return tags
}
