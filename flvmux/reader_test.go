package flvmux

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// readerCase is one FLV byte stream and what a Reader makes of it.
type readerCase struct {
	name       string
	wire       []byte
	skipHeader bool
	maxTagSize uint32
	header     *FileHeader // nil: no header expected
	value      []Tag       // expected tags (nil with counts set: only counted)
	counts     [3]int      // audio, video, script tags when value is nil
	mismatches uint64
	buffered   int // Buffered() after the last byte
	err        error
}

var avHeader = &FileHeader{Version: 1, HasAudio: true, HasVideo: true, DataOffset: 9}

var (
	tagMeta  = Tag{TagHeader: TagHeader{Type: TagScript, DataSize: 25}, Data: AppendOnMetaData(nil, &Metadata{Width: 320})[:25]}
	tagAACSH = Tag{TagHeader: TagHeader{Type: TagAudio, DataSize: 4}, Data: cat(0xaf, 0, 0x12, 0x10)}
	tagAVCSH = Tag{TagHeader: TagHeader{Type: TagVideo, DataSize: 9}, Data: cat(0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f)}
	tagKey   = Tag{TagHeader: TagHeader{Type: TagVideo, DataSize: 11, Timestamp: 40}, Data: cat(0x17, 1, 0, 0, 0x50, 0, 0, 0, 2, 0x65, 0x88)}
	tagEmpty = Tag{TagHeader: TagHeader{Type: TagAudio, DataSize: 0, Timestamp: 0x01000000}, Data: []byte{}}
	tagExt   = Tag{TagHeader: TagHeader{Type: TagVideo, DataSize: 8, Timestamp: 0xff000001}, Data: cat(0x91, "hvc1", 0, 0, 0)}
)

// muxTags appends tags to dst with AppendTag.
func muxTags(dst []byte, tags ...Tag) []byte {
	for _, t := range tags {
		dst = AppendTag(dst, t.Type, t.Timestamp, t.Data)
	}
	return dst
}

// readerCases returns the Reader case table, including the committed
// ffmpeg capture.
func readerCases(tb testing.TB) []readerCase {
	all := []Tag{tagMeta, tagAACSH, tagAVCSH, tagKey, tagEmpty, tagExt}
	stream := muxTags(AppendFileHeader(nil, true, true), all...)
	badPTS := muxTags(AppendFileHeader(nil, true, true), tagAACSH)
	badPTS[len(badPTS)-1]++ // PreviousTagSize of tagAACSH off by one
	badPTS = muxTags(badPTS, tagKey)
	badPTS0 := muxTags(AppendFileHeader(nil, false, true), tagKey)
	badPTS0[12] = 1
	extended := cat("FLV", 1, 4, 0, 0, 0, 15, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0)
	extended = muxTags(extended, tagAACSH)
	tooLarge := muxTags(AppendFileHeader(nil, true, true), tagAACSH, tagKey)
	badType := muxTags(AppendFileHeader(nil, true, true), tagAACSH, Tag{TagHeader: TagHeader{Type: 7}, Data: cat(1)})

	return []readerCase{
		{name: "header only", wire: AppendFileHeader(nil, true, true), header: avHeader},
		{name: "all tags", wire: stream, header: avHeader, value: all},
		{name: "cut without last PreviousTagSize", wire: stream[:len(stream)-2], header: avHeader, value: all},
		{name: "cut inside last tag", wire: stream[:len(stream)-6], header: avHeader, value: all[:len(all)-1],
			buffered: TagHeaderSize + 6},
		{name: "cut inside tag header", wire: stream[:13+TagSize(25)+5], header: avHeader, value: all[:1], buffered: 5},
		{name: "cut inside file header", wire: stream[:7], buffered: 7},
		{name: "skip file header", wire: muxTags(nil, all...), skipHeader: true, value: all},
		{name: "extended file header", wire: extended,
			header: &FileHeader{Version: 1, HasAudio: true, DataOffset: 15}, value: []Tag{tagAACSH}},
		{name: "PreviousTagSize mismatch tolerated", wire: badPTS, header: avHeader, value: []Tag{tagAACSH, tagKey}, mismatches: 1},
		{name: "PreviousTagSize0 mismatch tolerated", wire: badPTS0,
			header: &FileHeader{Version: 1, HasVideo: true, DataOffset: 9}, value: []Tag{tagKey}, mismatches: 1},
		{name: "tag too large", wire: tooLarge, maxTagSize: 10, header: avHeader, value: []Tag{tagAACSH}, err: ErrTagTooLarge},
		{name: "bad tag type", wire: badType, header: avHeader, value: []Tag{tagAACSH}, err: ErrTagType},
		{name: "bad signature", wire: cat("RIFF", stream[4:]), err: ErrBadSignature},
		{name: "bad DataOffset", wire: cat("FLV", 1, 5, 0, 0, 0, 3, 0, 0, 0, 0), err: ErrBadDataOffset},
		{name: "ffmpeg capture", wire: loadCapture(tb), header: avHeader, counts: [3]int{13, 15, 1}},
	}
}

// collect feeds chunks to r and returns copies of the tags it returns.
func collect(tb testing.TB, r *Reader, chunks [][]byte) ([]Tag, error) {
	var tags []Tag
	for _, p := range chunks {
		for len(p) > 0 {
			n, tag, err := r.Feed(p)
			if err != nil {
				return tags, err
			}
			if n > len(p) || n < 0 || (tag == nil && n != len(p)) {
				tb.Fatalf("Feed(%d bytes) = %d, tag %v", len(p), n, tag != nil)
			}
			p = p[n:]
			if tag != nil {
				if len(tag.Data) != int(tag.DataSize) || cap(tag.Data) != len(tag.Data) {
					tb.Fatalf("Data len %d cap %d, DataSize %d", len(tag.Data), cap(tag.Data), tag.DataSize)
				}
				c := *tag
				c.Data = bytes.Clone(tag.Data)
				if c.Data == nil {
					c.Data = []byte{}
				}
				tags = append(tags, c)
			}
		}
	}
	return tags, nil
}

// splitRandom cuts b into chunks of random sizes (including empty ones).
func splitRandom(b []byte, rng *rand.Rand) [][]byte {
	var chunks [][]byte
	for len(b) > 0 {
		n := rng.IntN(min(len(b), 64) + 1)
		if rng.IntN(8) == 0 {
			n = rng.IntN(len(b) + 1)
		}
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	return chunks
}

// splitEvery cuts b into chunks of size n.
func splitEvery(b []byte, n int) [][]byte {
	var chunks [][]byte
	for len(b) > n {
		chunks = append(chunks, b[:n])
		b = b[n:]
	}
	return append(chunks, b)
}

func tagsEqual(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].TagHeader != b[i].TagHeader || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range readerCases(t) {
		t.Run(c.name, func(t *testing.T) {
			splits := map[string][][]byte{
				"whole":   {c.wire},
				"bytes":   splitEvery(c.wire, 1),
				"7 bytes": splitEvery(c.wire, 7),
			}
			for i := range 20 {
				splits["random"+string(rune('a'+i))] = splitRandom(c.wire, rng)
			}
			for how, chunks := range splits {
				r := &Reader{MaxTagSize: c.maxTagSize, SkipFileHeader: c.skipHeader}
				tags, err := collect(t, r, chunks)
				if !errors.Is(err, c.err) {
					t.Fatalf("%s: err = %v, want %v", how, err, c.err)
				}
				if err != nil {
					// Errors are sticky.
					if _, _, err2 := r.Feed([]byte{0}); err2 != err {
						t.Fatalf("%s: error not sticky: %v", how, err2)
					}
				}
				if c.value != nil && !tagsEqual(tags, c.value) {
					t.Fatalf("%s: got %d tags %+v\nwant %d %+v", how, len(tags), tags, len(c.value), c.value)
				}
				if c.value == nil {
					var counts [3]int
					for _, tag := range tags {
						counts[map[uint8]int{TagAudio: 0, TagVideo: 1, TagScript: 2}[tag.Type]]++
					}
					if counts != c.counts {
						t.Fatalf("%s: counts %v, want %v", how, counts, c.counts)
					}
				}
				h, ok := r.Header()
				if ok != (c.header != nil) || (ok && h != *c.header) {
					t.Fatalf("%s: Header() = %+v, %v; want %+v", how, h, ok, c.header)
				}
				if c.err == nil {
					if r.PrevTagSizeMismatches() != c.mismatches {
						t.Fatalf("%s: mismatches %d, want %d", how, r.PrevTagSizeMismatches(), c.mismatches)
					}
					if r.Buffered() != c.buffered {
						t.Fatalf("%s: Buffered %d, want %d", how, r.Buffered(), c.buffered)
					}
				}
			}
		})
	}
}

// TestReaderFastPathAliases checks that a tag wholly inside p aliases p.
func TestReaderFastPathAliases(t *testing.T) {
	stream := muxTags(AppendFileHeader(nil, true, true), tagAVCSH, tagKey)
	var r Reader
	p := stream
	var got []*byte
	for len(p) > 0 {
		n, tag, err := r.Feed(p)
		if err != nil {
			t.Fatal(err)
		}
		if tag != nil {
			got = append(got, &tag.Data[0])
		}
		p = p[n:]
	}
	if len(got) != 2 || got[0] != &stream[13+TagHeaderSize] {
		t.Fatalf("tag data does not alias the input")
	}
}

func TestReaderReset(t *testing.T) {
	stream := muxTags(AppendFileHeader(nil, true, true), tagAACSH, tagKey)
	r := Reader{MaxTagSize: 100}
	if _, err := collect(t, &r, [][]byte{cat("XLV", stream[3:])}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("err = %v", err)
	}
	r.Reset()
	if r.MaxTagSize != 100 {
		t.Fatal("Reset dropped MaxTagSize")
	}
	for range 2 {
		tags, err := collect(t, &r, splitEvery(stream, 3))
		if err != nil || !tagsEqual(tags, []Tag{tagAACSH, tagKey}) {
			t.Fatalf("after Reset: %v %+v", err, tags)
		}
		r.Reset()
	}
}

// TestReaderBoundedBuffer checks that the Reader never buffers ahead of the
// bytes it received, whatever the DataSize says.
func TestReaderBoundedBuffer(t *testing.T) {
	// A tag announcing 16 MiB - 1 bytes, of which 100 arrive.
	stream := AppendFileHeader(nil, true, true)
	stream = AppendTagHeader(stream, TagVideo, MaxDataSize, 0)
	stream = append(stream, make([]byte, 100)...)
	var r Reader
	if _, err := collect(t, &r, splitEvery(stream, 10)); err != nil {
		t.Fatal(err)
	}
	if cap(r.buf) > 1024 {
		t.Fatalf("buffer capacity %d for 100 bytes received", cap(r.buf))
	}
}
