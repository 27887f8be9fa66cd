package amf0

// AMF3 type markers (AMF3 specification, section 3.1).
const (
	amf3Undefined    = 0x00
	amf3Null         = 0x01
	amf3False        = 0x02
	amf3True         = 0x03
	amf3Integer      = 0x04
	amf3Double       = 0x05
	amf3String       = 0x06
	amf3XMLDocument  = 0x07
	amf3Date         = 0x08
	amf3Array        = 0x09
	amf3Object       = 0x0A
	amf3XML          = 0x0B
	amf3ByteArray    = 0x0C
	amf3VectorInt    = 0x0D
	amf3VectorUint   = 0x0E
	amf3VectorDouble = 0x0F
	amf3VectorObject = 0x10
	amf3Dictionary   = 0x11
)

// SkipAMF3 measures the AMF3 value at the start of b, as found after an
// AVM+ marker (AMF0 section 3.1), and returns its length in bytes without
// decoding it. It understands every AMF3 type (AMF3 specification sections
// 3.2 to 3.16); references of any kind are consumed as their U29 index.
//
// It returns ErrShort when b ends inside the value, ErrAMF3Marker for an
// unknown marker, and ErrAMF3Unsupported when the length cannot be known: an
// externalizable object (its body is class-defined), a traits reference to
// traits not defined earlier in the same value (or beyond MaxAMF3Traits), or
// nesting deeper than MaxDepth. It allocates nothing, and its work is linear
// in len(b).
func SkipAMF3(b []byte) (n int, err error) {
	return skipAMF3(b, MaxDepth)
}

// skipAMF3 is SkipAMF3 with depth containers of nesting allowed.
func skipAMF3(b []byte, depth int) (int, error) {
	s := amf3Skipper{in: b}
	return s.value(0, depth)
}

// amf3Skipper remembers the object traits defined so far in one AMF3 value,
// each as sealed-member count << 1 | dynamic flag.
type amf3Skipper struct {
	in      []byte
	traits  [MaxAMF3Traits]uint32
	ntraits int // traits defined so far, including ones not remembered
}

// u29 reads a variable-length 29-bit unsigned integer (AMF3 section 1.3.1).
func (s *amf3Skipper) u29(pos int) (uint32, int, error) {
	var v uint32
	for i := 0; i < 3; i++ {
		if pos >= len(s.in) {
			return 0, 0, ErrShort
		}
		c := s.in[pos]
		pos++
		if c < 0x80 {
			return v<<7 | uint32(c), pos, nil
		}
		v = v<<7 | uint32(c&0x7F)
	}
	if pos >= len(s.in) {
		return 0, 0, ErrShort
	}
	return v<<8 | uint32(s.in[pos]), pos + 1, nil
}

// skip advances pos by n bytes, checking they are present.
func (s *amf3Skipper) skip(pos int, n uint64) (int, error) {
	if n > uint64(len(s.in)-pos) {
		return 0, ErrShort
	}
	return pos + int(n), nil
}

// inline reads a U29 header at pos: for an inline value (low bit set) it
// skips unit bytes per count (the header >> 1) and reports inline == true;
// for a reference (low bit clear) it only consumes the header.
func (s *amf3Skipper) inline(pos int, unit uint64) (int, uint32, bool, error) {
	h, pos, err := s.u29(pos)
	if err != nil {
		return 0, 0, false, err
	}
	if h&1 == 0 {
		return pos, 0, false, nil
	}
	pos, err = s.skip(pos, uint64(h>>1)*unit)
	return pos, h >> 1, true, err
}

// str skips a UTF-8-vr: an inline string or a string reference.
func (s *amf3Skipper) str(pos int) (int, error) {
	pos, _, _, err := s.inline(pos, 1)
	return pos, err
}

// value skips one AMF3 value starting with its marker at pos.
func (s *amf3Skipper) value(pos, depth int) (int, error) {
	if pos >= len(s.in) {
		return 0, ErrShort
	}
	m := s.in[pos]
	pos++
	switch m {
	case amf3Undefined, amf3Null, amf3False, amf3True:
		return pos, nil
	case amf3Integer:
		_, pos, err := s.u29(pos)
		return pos, err
	case amf3Double:
		return s.skip(pos, 8)
	case amf3String, amf3XMLDocument, amf3XML, amf3ByteArray:
		return s.str(pos)
	case amf3Date:
		h, pos, err := s.u29(pos)
		if err != nil || h&1 == 0 {
			return pos, err
		}
		return s.skip(pos, 8)
	}
	// Containers.
	if m > amf3Dictionary {
		return 0, ErrAMF3Marker
	}
	if depth <= 0 {
		return 0, ErrAMF3Unsupported
	}
	depth--
	switch m {
	case amf3Array:
		return s.array(pos, depth)
	case amf3Object:
		return s.object(pos, depth)
	case amf3VectorInt, amf3VectorUint, amf3VectorDouble:
		h, pos, err := s.u29(pos)
		if err != nil || h&1 == 0 {
			return pos, err
		}
		unit := uint64(4)
		if m == amf3VectorDouble {
			unit = 8
		}
		return s.skip(pos, 1+uint64(h>>1)*unit) // fixed-vector flag, items
	case amf3VectorObject:
		h, pos, err := s.u29(pos)
		if err != nil || h&1 == 0 {
			return pos, err
		}
		if pos, err = s.skip(pos, 1); err != nil { // fixed-vector flag
			return 0, err
		}
		if pos, err = s.str(pos); err != nil { // object type name
			return 0, err
		}
		return s.values(pos, h>>1, depth)
	default: // amf3Dictionary
		h, pos, err := s.u29(pos)
		if err != nil || h&1 == 0 {
			return pos, err
		}
		if pos, err = s.skip(pos, 1); err != nil { // weak-keys flag
			return 0, err
		}
		if uint64(h>>1)*2 > uint64(len(s.in)-pos) {
			return 0, ErrShort
		}
		return s.values(pos, (h>>1)*2, depth) // key, value pairs
	}
}

// values skips count values. Every value takes at least one byte, so counts
// beyond the input fail before any work.
func (s *amf3Skipper) values(pos int, count uint32, depth int) (int, error) {
	if uint64(count) > uint64(len(s.in)-pos) {
		return 0, ErrShort
	}
	var err error
	for range count {
		if pos, err = s.value(pos, depth); err != nil {
			return 0, err
		}
	}
	return pos, nil
}

// dynamic skips name/value pairs up to the empty name (UTF-8-empty).
func (s *amf3Skipper) dynamic(pos, depth int) (int, error) {
	for {
		h, next, err := s.u29(pos)
		if err != nil {
			return 0, err
		}
		if h == 1 { // empty inline string ends the list
			return next, nil
		}
		if pos, err = s.str(pos); err != nil {
			return 0, err
		}
		if pos, err = s.value(pos, depth); err != nil {
			return 0, err
		}
	}
}

// array skips the body of an Array (AMF3 section 3.11): the associative part
// then the dense part.
func (s *amf3Skipper) array(pos, depth int) (int, error) {
	h, pos, err := s.u29(pos)
	if err != nil || h&1 == 0 {
		return pos, err
	}
	if pos, err = s.dynamic(pos, depth); err != nil {
		return 0, err
	}
	return s.values(pos, h>>1, depth)
}

// object skips the body of an Object (AMF3 section 3.12).
func (s *amf3Skipper) object(pos, depth int) (int, error) {
	h, pos, err := s.u29(pos)
	if err != nil || h&1 == 0 { // object reference
		return pos, err
	}
	var sealed uint32
	var dyn bool
	switch {
	case h&2 == 0: // traits reference
		i := h >> 2
		if i >= uint32(min(s.ntraits, MaxAMF3Traits)) {
			return 0, ErrAMF3Unsupported
		}
		sealed, dyn = s.traits[i]>>1, s.traits[i]&1 != 0
	case h&4 != 0: // externalizable: the body's length is class-defined
		return 0, ErrAMF3Unsupported
	default: // inline traits
		sealed, dyn = h>>4, h&8 != 0
		if pos, err = s.str(pos); err != nil { // class name
			return 0, err
		}
		if uint64(sealed) > uint64(len(s.in)-pos) {
			return 0, ErrShort
		}
		for range sealed { // sealed member names
			if pos, err = s.str(pos); err != nil {
				return 0, err
			}
		}
		if s.ntraits < MaxAMF3Traits {
			t := sealed << 1
			if dyn {
				t |= 1
			}
			s.traits[s.ntraits] = t
		}
		s.ntraits++
	}
	if pos, err = s.values(pos, sealed, depth); err != nil {
		return 0, err
	}
	if dyn {
		return s.dynamic(pos, depth)
	}
	return pos, nil
}
