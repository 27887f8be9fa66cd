package flvmux

import "encoding/binary"

// Reader states.
const (
	stStart uint8 = iota
	stFileHeader
	stSkip
	stUnit
	stData
)

// Tag is one FLV tag handed out by Reader.Feed.
type Tag struct {
	TagHeader
	// Data is the tag's DataSize bytes. It aliases either the p passed to
	// the Feed call that returned the tag or the Reader's internal buffer,
	// and is valid until the next call to Feed or Reset (and, when it
	// aliases p, only as long as the caller leaves p unmodified). Copy it to
	// keep it longer. Its capacity equals its length, so appending to it
	// never overwrites neighbouring bytes.
	Data []byte
}

// Reader is a push decoder for an FLV byte stream: a file or an HTTP-FLV /
// WebSocket-FLV body. It never blocks and never reads on its own; the
// caller feeds it whatever bytes arrive, in pieces of any size.
//
// The file header (and PreviousTagSize0) is parsed transparently; Header
// returns it. Each PreviousTagSize is compared with the size of the tag
// before it; a mismatch is tolerated (many muxers get it wrong) and counted
// in PrevTagSizeMismatches.
//
// In steady state Feed does not allocate: when a whole tag is inside p, the
// returned Data aliases p; otherwise the tag is assembled in an internal
// buffer that grows only with bytes actually received (never ahead of a
// length field), up to MaxTagSize, and is reused for later tags.
//
// The zero value is ready to use with the defaults. Set the exported
// fields before the first Feed (or right after Reset). A Reader is not safe
// for concurrent use; one goroutine (or event loop) owns it. It owns its tag
// buffer and must not be copied.
type Reader struct {
	_ noCopy

	// MaxTagSize caps a tag's DataSize; a larger tag fails Feed with
	// ErrTagTooLarge. 0 means DefaultMaxTagSize.
	MaxTagSize uint32
	// SkipFileHeader says that the stream starts directly at a tag header,
	// with neither the FLV file header nor PreviousTagSize0 (for example,
	// a concatenation of AppendTag outputs).
	SkipFileHeader bool

	state      uint8
	haveHeader bool
	expectPTS  bool   // the next unit starts with a PreviousTagSize
	nfixed     int    // bytes held in fixed
	skip       uint32 // file header extension bytes still to skip
	prevSize   uint32 // expected next PreviousTagSize
	mismatches uint64
	header     FileHeader
	err        error
	fixed      [PrevTagSizeLen + TagHeaderSize]byte
	buf        []byte
	tag        Tag
}

// Feed consumes bytes from p until one tag is complete or p is used up. It
// returns the number of bytes consumed and, when a tag completed, that tag
// (owned by the Reader; see Tag.Data for how long it stays valid). When tag
// is nil, n == len(p): the bytes were buffered and more are needed. Call
// Feed again with p[n:] until p is empty:
//
//	for len(p) > 0 {
//		n, tag, err := r.Feed(p)
//		if err != nil { ... }
//		p = p[n:]
//		if tag != nil { ... }
//	}
//
// Errors are ErrBadSignature, ErrBadDataOffset, ErrTagType and
// ErrTagTooLarge. After an error the Reader is failed: every later Feed
// returns the same error until Reset.
func (r *Reader) Feed(p []byte) (n int, tag *Tag, err error) {
	if r.err != nil {
		return 0, nil, r.err
	}
	for {
		switch r.state {
		case stStart:
			r.start()

		case stFileHeader:
			k, full := r.fill(p[n:], FileHeaderSize)
			n += k
			if !full {
				return n, nil, nil
			}
			h, err := parseFileHeader(r.fixed[:FileHeaderSize])
			if err != nil {
				return n, nil, r.fail(err)
			}
			r.header, r.haveHeader = h, true
			r.skip = h.DataOffset - FileHeaderSize
			r.expectPTS, r.prevSize = true, 0
			r.state = stSkip

		case stSkip:
			k := min(int(r.skip), len(p)-n)
			r.skip -= uint32(k)
			n += k
			if r.skip > 0 {
				return n, nil, nil
			}
			r.state = stUnit

		case stUnit:
			pre := 0
			if r.expectPTS {
				pre = PrevTagSizeLen
			}
			need := pre + TagHeaderSize
			var hb []byte
			if r.nfixed == 0 && len(p)-n >= need {
				hb = p[n : n+need]
				n += need
			} else {
				k, full := r.fill(p[n:], need)
				n += k
				if !full {
					return n, nil, nil
				}
				hb = r.fixed[:need]
			}
			if pre > 0 && binary.BigEndian.Uint32(hb) != r.prevSize {
				r.mismatches++
			}
			h := parseTagHeader(hb[pre:])
			if h.Type != TagAudio && h.Type != TagVideo && h.Type != TagScript {
				return n, nil, r.fail(ErrTagType)
			}
			if h.DataSize > r.maxTagSize() {
				return n, nil, r.fail(ErrTagTooLarge)
			}
			r.tag = Tag{TagHeader: h}
			r.expectPTS, r.prevSize = true, TagHeaderSize+h.DataSize
			r.buf = r.buf[:0]
			r.state = stData

		case stData:
			size := int(r.tag.DataSize)
			if len(r.buf) == 0 && len(p)-n >= size {
				// Fast path: the whole payload is in p; alias it.
				r.tag.Data = p[n : n+size : n+size]
				n += size
				r.state = stUnit
				return n, &r.tag, nil
			}
			k := min(size-len(r.buf), len(p)-n)
			r.buf = append(r.buf, p[n:n+k]...)
			n += k
			if len(r.buf) < size {
				return n, nil, nil
			}
			r.tag.Data = r.buf[:size:size]
			r.state = stUnit
			return n, &r.tag, nil
		}
	}
}

// fill copies bytes from p into r.fixed until it holds need bytes (a file
// header, or a tag header with the PreviousTagSize before it). It returns
// the bytes of p consumed and whether r.fixed[:need] is complete; nfixed then
// starts again from 0 for the next unit.
func (r *Reader) fill(p []byte, need int) (k int, full bool) {
	k = copy(r.fixed[r.nfixed:need], p)
	r.nfixed += k
	if r.nfixed < need {
		return k, false
	}
	r.nfixed = 0
	return k, true
}

// start leaves the initial state according to SkipFileHeader.
func (r *Reader) start() {
	if r.SkipFileHeader {
		r.state = stUnit
		r.expectPTS = false
		return
	}
	r.state = stFileHeader
}

// fail records err as the Reader's terminal error and returns it.
func (r *Reader) fail(err error) error {
	r.err = err
	return err
}

// maxTagSize returns the effective DataSize cap.
func (r *Reader) maxTagSize() uint32 {
	if r.MaxTagSize == 0 {
		return DefaultMaxTagSize
	}
	return r.MaxTagSize
}

// Header returns the FLV file header and true once it has been parsed, or
// false before that and when SkipFileHeader is set.
func (r *Reader) Header() (FileHeader, bool) {
	return r.header, r.haveHeader
}

// PrevTagSizeMismatches returns how many PreviousTagSize fields (including
// PreviousTagSize0, expected to be 0) did not match the size of the tag
// before them. The Reader tolerates mismatches; a growing count suggests a
// sloppy muxer or a corrupt stream.
func (r *Reader) PrevTagSizeMismatches() uint64 { return r.mismatches }

// Buffered returns how many bytes of an incomplete file header, tag header
// or tag payload the Reader holds; bytes of a trailing PreviousTagSize are
// not counted. A non-zero value at the end of the input means the stream
// was cut inside the file header or a tag.
func (r *Reader) Buffered() int {
	switch r.state {
	case stFileHeader:
		return r.nfixed
	case stUnit:
		if r.expectPTS {
			return max(0, r.nfixed-PrevTagSizeLen)
		}
		return r.nfixed
	case stData:
		return TagHeaderSize + len(r.buf)
	}
	return 0
}

// Reset returns the Reader to its initial state, clearing any error, so it
// can read a new stream. It keeps MaxTagSize, SkipFileHeader and the
// internal buffer's capacity. The Data of a tag returned earlier must not be
// used afterwards.
func (r *Reader) Reset() {
	*r = Reader{
		MaxTagSize:     r.MaxTagSize,
		SkipFileHeader: r.SkipFileHeader,
		buf:            r.buf[:0],
	}
}
