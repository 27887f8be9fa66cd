package recorder

// Reading a recording back for playback: the FLV file reader (Adobe Flash
// Video File Format Specification v10.1, annex E: the file header E.2, tags
// E.4, onMetaData E.5) that VOD plays use. It reads any FLV file, not only
// Quaver's own recordings.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/flvmux"
)

// Limits of reading a recording.
const (
	// ReadBufferSize is the size of one file read of a TagReader, and the
	// buffer each open File holds for it.
	ReadBufferSize = 64 << 10
	// HeadScanBytes bounds the bytes OpenFile reads after the metadata while
	// looking for the sequence headers and the first keyframe, so that a file
	// without a keyframe is not read to its end just to open it.
	HeadScanBytes = 4 << 20
	// MaxTagSize caps one tag read from a recording (a larger one ends the
	// read with flvmux.ErrTagTooLarge). Tags are assembled in memory only
	// when they straddle a read, and only from bytes actually read.
	MaxTagSize = flvmux.DefaultMaxTagSize
)

// File is an open recording: its FLV header, metadata, the offset of its first
// tag after the metadata, the sequence headers found before its first
// keyframe, and a tag cursor (Tags).
//
// Ownership: one goroutine (a VOD play's) owns a File and is the only one to
// call KeyframeAt, Tags, the TagReader's methods, ReadAt and Close. Everything
// OpenFile reads is immutable afterwards: Name, Size, Header, Metadata,
// OnMetaData, FirstTag and AppendSequenceHeaders are safe from any goroutine
// (an event loop included: they do no I/O), also after Close. A File holds a
// ReadBufferSize buffer and must not be copied.
type File struct {
	_ noCopy

	// Immutable once OpenFile returns.
	name     string
	f        *os.File
	size     int64
	header   flvmux.FileHeader
	md       flvmux.Metadata
	meta     []byte      // onMetaData body (name and array, without padding), or nil
	firstTag int64       // file offset of the first tag after the metadata
	seq      []seqHeader // sequence headers before the first keyframe

	// Owner-only.
	tags TagReader
}

// seqHeader is a copy of a sequence header tag's type and data.
type seqHeader struct {
	typ  uint8
	data []byte
}

// OpenFile reads the head of an open recording: the FLV header, the metadata
// (when the first tag is a script tag) and the sequence headers up to the
// first video keyframe, reading at most HeadScanBytes past the metadata for
// them. name names the file in errors and is what Name returns. It does disk
// I/O: call it off event loops.
//
// OpenFile takes ownership of f: it closes f when it fails, and File.Close
// closes it otherwise. A file that is not a regular file is ErrNotFound; one
// that has no FLV header and whole first tag is ErrNotFLV (wrapping the
// flvmux error, or io.EOF for a file cut short).
func OpenFile(f *os.File, name string) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("recorder: %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, name)
	}
	vf := &File{name: name, f: f, size: st.Size()}
	src := &vf.tags
	src.init(f)
	src.seekFile()
	t, start, err := src.Next()
	if err != nil {
		_ = vf.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFLV, name, err)
	}
	vf.header, _ = src.rd.Header()
	vf.firstTag = start
	if t.Type == flvmux.TagScript {
		body := flvmux.StripSetDataFrame(t.Data)
		var doc amf0.Document
		// Only the name and the array: padding may follow them.
		if n1, err := doc.DecodeOne(body); err == nil {
			if n2, err := doc.DecodeOne(body[n1:]); err == nil {
				if flvmux.ReadOnMetaData(body[:n1+n2], &doc, &vf.md) == nil {
					vf.meta = append([]byte(nil), body[:n1+n2]...)
				}
			}
		}
		vf.firstTag = start + flvmux.TagHeaderSize + int64(t.DataSize) + flvmux.PrevTagSizeLen
		t, start, err = src.Next()
	}
	// The sequence headers come before the first keyframe.
	for ; err == nil && start-vf.firstTag < HeadScanBytes; t, start, err = src.Next() {
		if t.Type == flvmux.TagVideo && flvmux.IsVideoSequenceHeader(t.Data) ||
			t.Type == flvmux.TagAudio && isAudioSequenceHeader(t.Data) {
			vf.seq = append(vf.seq, seqHeader{typ: t.Type, data: append([]byte(nil), t.Data...)})
			continue
		}
		if t.Type == flvmux.TagVideo && flvmux.IsVideoKeyframe(t.Data) {
			break
		}
	}
	return vf, nil
}

func isAudioSequenceHeader(data []byte) bool {
	ah, err := flvmux.ReadAudioHeader(data)
	return err == nil && ah.IsSequenceHeader()
}

// Close closes the file. Owner-only; the immutable accessors stay usable.
func (vf *File) Close() error { return vf.f.Close() }

// Name returns the name OpenFile was given. Safe from any goroutine.
func (vf *File) Name() string { return vf.name }

// Size returns the file's size when it was opened (a recording still being
// written grows past it). Safe from any goroutine.
func (vf *File) Size() int64 { return vf.size }

// Header returns the FLV file header. Safe from any goroutine.
func (vf *File) Header() flvmux.FileHeader { return vf.header }

// Metadata returns what the file's onMetaData says (zero without one). Its
// Keyframes slices are shared with the File: read them, never modify them.
// Safe from any goroutine.
func (vf *File) Metadata() flvmux.Metadata { return vf.md }

// OnMetaData returns the onMetaData tag body (the name and the ECMA array,
// without a recording's padding or a @setDataFrame prefix), or nil when the
// file has none that decodes. The slice is the File's, valid for its
// lifetime (also after Close); do not modify it. Safe from any goroutine.
func (vf *File) OnMetaData() []byte { return vf.meta }

// FirstTag returns the file offset of the first tag after the metadata (of
// the first tag when the file has no metadata tag). In a file that ends with
// its metadata tag it is past Size (by up to flvmux.PrevTagSizeLen): the file
// has no tags to read. Safe from any goroutine.
func (vf *File) FirstTag() int64 { return vf.firstTag }

// AppendSequenceHeaders appends the sequence headers found before the first
// keyframe, in file order, each encoded by enc with timestamp ts (for
// example flvmux.AppendTag, or an RTMP message encoder). The data enc gets is
// the File's: enc must not modify or retain it. Safe from any goroutine.
func (vf *File) AppendSequenceHeaders(dst []byte, ts uint32, enc func(dst []byte, typ uint8, ts uint32, data []byte) []byte) []byte {
	for _, s := range vf.seq {
		dst = enc(dst, s.typ, ts, s.data)
	}
	return dst
}

// ReadAt reads the file's bytes (io.ReaderAt), for sending them as they are.
// Owner-only.
func (vf *File) ReadAt(p []byte, off int64) (int, error) { return vf.f.ReadAt(p, off) }

// Tags returns the File's tag cursor. There is one per File, shared with
// KeyframeAt. Owner-only.
func (vf *File) Tags() *TagReader { return &vf.tags }

// KeyframeAt returns the file offset and timestamp of the video keyframe at or
// before ms (milliseconds), using the metadata's keyframe index when it is
// right (sorted, as long as its positions, and pointing at a keyframe tag) and
// a scan of the tags from FirstTag when not. Without any keyframe it returns
// FirstTag and ts -1. It leaves the tag cursor (Tags) at pos. Owner-only; it
// does disk I/O.
func (vf *File) KeyframeAt(ms float64) (pos int64, ts int64) {
	pos, ts = vf.keyframeAt(ms)
	vf.tags.SeekTag(pos)
	return pos, ts
}

func (vf *File) keyframeAt(ms float64) (int64, int64) {
	kf := vf.md.Keyframes
	if n := len(kf.Times); n > 0 && n == len(kf.FilePositions) && sort.Float64sAreSorted(kf.Times) {
		i := sort.Search(n, func(i int) bool { return kf.Times[i]*1000 > ms+0.5 }) - 1
		i = max(i, 0)
		pos := int64(kf.FilePositions[i])
		if ts, ok := vf.keyframeTag(pos); ok {
			return pos, int64(ts)
		}
	}
	// No usable index: scan.
	bestPos, bestTS := vf.firstTag, int64(-1)
	src := &vf.tags
	src.SeekTag(vf.firstTag)
	for {
		t, start, err := src.Next()
		if err != nil {
			break
		}
		if t.Type != flvmux.TagVideo || !flvmux.IsVideoKeyframe(t.Data) || flvmux.IsVideoSequenceHeader(t.Data) {
			continue
		}
		if bestTS >= 0 && float64(t.Timestamp) > ms {
			break
		}
		bestPos, bestTS = start, int64(t.Timestamp)
	}
	return bestPos, bestTS
}

// keyframeTag reports whether a video keyframe tag starts at pos, and its timestamp.
func (vf *File) keyframeTag(pos int64) (uint32, bool) {
	if pos < vf.firstTag || pos >= vf.size {
		return 0, false
	}
	var b [flvmux.TagHeaderSize + 16]byte
	n, _ := vf.f.ReadAt(b[:], pos)
	th, hn, err := flvmux.ReadTagHeader(b[:n])
	if err != nil || hn == 0 || th.Type != flvmux.TagVideo {
		return 0, false
	}
	data := b[hn:n]
	if int(th.DataSize) < len(data) {
		data = data[:th.DataSize]
	}
	if !flvmux.IsVideoKeyframe(data) || flvmux.IsVideoSequenceHeader(data) {
		return 0, false
	}
	return th.Timestamp, true
}

// TagReader reads a recording's tags in file order from a file offset, one
// ReadBufferSize read at a time, assembling tags that straddle reads (up to
// MaxTagSize). It belongs to its File and has the File's owner: one goroutine.
type TagReader struct {
	_        noCopy
	f        *os.File
	buf      []byte // ReadBufferSize
	p        []byte // unparsed part of buf
	off      int64  // file offset of the next read
	consumed int64  // file offset of p[0]
	eof      bool
	rd       flvmux.Reader
}

func (s *TagReader) init(f *os.File) {
	s.f = f
	s.buf = make([]byte, ReadBufferSize)
	s.rd.MaxTagSize = MaxTagSize
}

// seekFile positions at the start of the file (the FLV header).
func (s *TagReader) seekFile() {
	s.rd.SkipFileHeader = false
	s.rd.Reset()
	s.off, s.consumed, s.p, s.eof = 0, 0, nil, false
}

// SeekTag positions the cursor at the tag header at file offset pos (a tag's
// offset as Next or KeyframeAt returned it, or FirstTag). It does no I/O; a
// pos that is not a tag's start makes Next fail or read garbage tags, never
// read out of bounds. The tag Next returned last is invalid from here on.
func (s *TagReader) SeekTag(pos int64) {
	s.rd.SkipFileHeader = true
	s.rd.Reset()
	s.off, s.consumed, s.p, s.eof = pos, pos, nil, false
}

// Next returns the next whole tag and the file offset of its header. The tag
// (and its Data) belongs to the TagReader and is valid until the next call to
// Next or SeekTag (or KeyframeAt); copy what must outlive it. At the end of the
// file, and at a tag torn by the end of the file (a recording being written or
// cut short), it returns io.EOF, and keeps returning it until SeekTag. An FLV
// error (flvmux.ErrTagType, flvmux.ErrTagTooLarge) or a read error also ends
// the tags. Owner-only; it does disk I/O.
func (s *TagReader) Next() (*flvmux.Tag, int64, error) {
	for {
		if len(s.p) == 0 {
			if s.eof {
				return nil, 0, io.EOF
			}
			n, err := s.f.ReadAt(s.buf, s.off)
			s.off += int64(n)
			s.p = s.buf[:n]
			if err != nil {
				if !errors.Is(err, io.EOF) {
					return nil, 0, err
				}
				s.eof = true
			}
			if n == 0 {
				continue
			}
		}
		k, t, err := s.rd.Feed(s.p)
		s.p = s.p[k:]
		s.consumed += int64(k)
		if err != nil {
			return nil, 0, err
		}
		if t != nil {
			return t, s.consumed - flvmux.TagHeaderSize - int64(t.DataSize), nil
		}
	}
}

// noCopy makes go vet's copylocks check report copies of the struct that
// holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
