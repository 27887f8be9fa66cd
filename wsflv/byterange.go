package wsflv

import (
	"bytes"
	"strconv"
)

// Byte ranges (RFC 9110 section 14): the Range request field a player sends
// to seek in a recording, and the Content-Range of the answer.

// MaxRangeDigits bounds the digits of a position or length in a Range field:
// 18 digits always fit an int64 (as for Content-Length). A longer number
// makes the field invalid, so it is ignored.
const MaxRangeDigits = 18

// RangeResult is how a server that supports byte ranges answers a request
// for a representation of a known size (RFC 9110 section 14.2).
type RangeResult uint8

const (
	// RangeIgnored: send the whole representation with 200. The answer to a
	// request without a Range field, with one whose unit is not "bytes",
	// that is not valid syntax (section 14.1.1), that asks for more than one
	// range (section 14.2 lets a server ignore any Range field; one range is
	// what players and FFmpeg send when they seek), or for a representation
	// of zero length (as net/http does: some clients send a Range with
	// every request).
	RangeIgnored RangeResult = iota
	// RangePartial: send the ByteRange with 206 Partial Content and
	// Content-Range: bytes First-Last/size (section 15.3.7).
	RangePartial
	// RangeUnsatisfiable: answer 416 Range Not Satisfiable with
	// Content-Range: bytes */size (section 15.5.17): the range starts at or
	// after the end, or is a suffix of length 0 (section 14.1.1).
	RangeUnsatisfiable
)

func (r RangeResult) String() string {
	switch r {
	case RangeIgnored:
		return "ignored"
	case RangePartial:
		return "partial"
	case RangeUnsatisfiable:
		return "unsatisfiable"
	}
	return "RangeResult(" + strconv.Itoa(int(r)) + ")"
}

// ByteRange is a satisfiable byte range: the bytes First through Last of the
// representation, both inclusive (RFC 9110 section 14.1.2), 0 <= First <=
// Last < size.
type ByteRange struct{ First, Last int64 }

// Len returns the number of bytes in the range.
func (r ByteRange) Len() int64 { return r.Last - r.First + 1 }

// ParseRange reads the value of a Range field (v, as ReadRequest returns it:
// without surrounding whitespace; nil when the request has none) for a
// representation of size bytes (size >= 0), following RFC 9110 section 14.1:
//
//	ranges-specifier = range-unit "=" range-set   ; the unit is "bytes", any case
//	range-set        = 1#range-spec               ; empty list elements are skipped
//	range-spec       = first-pos "-" [ last-pos ] / "-" suffix-length
//
// A last-pos at or past the end is the last byte; a suffix longer than the
// representation is all of it. It returns the range to send with
// RangePartial, and a zero ByteRange otherwise. It allocates nothing.
func ParseRange(v []byte, size int64) (ByteRange, RangeResult) {
	const unit = "bytes="
	if size <= 0 || len(v) < len(unit) || !equalFold(v[:len(unit)], unit) {
		return ByteRange{}, RangeIgnored
	}
	var spec []byte
	n := 0
	for rest := v[len(unit):]; ; {
		elem := rest
		i := bytes.IndexByte(rest, ',')
		if i >= 0 {
			elem, rest = rest[:i], rest[i+1:]
		}
		if elem = trimOWS(elem); len(elem) > 0 {
			spec = elem
			n++
		}
		if i < 0 {
			break
		}
	}
	if n != 1 {
		return ByteRange{}, RangeIgnored // no range (invalid) or several (ignored)
	}
	dash := bytes.IndexByte(spec, '-')
	if dash < 0 {
		return ByteRange{}, RangeIgnored
	}
	if dash == 0 { // suffix-range
		suffix, ok := parseDigits(spec[1:])
		switch {
		case !ok:
			return ByteRange{}, RangeIgnored
		case suffix == 0:
			return ByteRange{}, RangeUnsatisfiable
		}
		return ByteRange{First: size - min(suffix, size), Last: size - 1}, RangePartial
	}
	first, ok := parseDigits(spec[:dash])
	if !ok {
		return ByteRange{}, RangeIgnored
	}
	last := size - 1
	if lastPos := spec[dash+1:]; len(lastPos) > 0 {
		l, ok := parseDigits(lastPos)
		if !ok || l < first {
			return ByteRange{}, RangeIgnored // invalid (section 14.1.1)
		}
		last = min(l, last)
	}
	if first >= size {
		return ByteRange{}, RangeUnsatisfiable
	}
	return ByteRange{First: first, Last: last}, RangePartial
}

// AppendRange appends the Range field value that asks for r
// ("bytes=First-Last").
func AppendRange(dst []byte, r ByteRange) []byte {
	dst = append(dst, "bytes="...)
	dst = strconv.AppendInt(dst, r.First, 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, r.Last, 10)
}

// AppendContentRange appends the Content-Range field value of an answer
// (RFC 9110 section 14.4): "bytes First-Last/size" for RangePartial,
// "bytes */size" for RangeUnsatisfiable. Other results append nothing.
func AppendContentRange(dst []byte, r ByteRange, res RangeResult, size int64) []byte {
	switch res {
	case RangePartial:
		dst = append(dst, "bytes "...)
		dst = strconv.AppendInt(dst, r.First, 10)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, r.Last, 10)
	case RangeUnsatisfiable:
		dst = append(dst, "bytes *"...)
	default:
		return dst
	}
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// parseDigits reads 1 to MaxRangeDigits decimal digits.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > MaxRangeDigits {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// trimOWS trims optional whitespace (spaces and tabs, RFC 9110 section 5.6.3).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
