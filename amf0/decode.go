package amf0

import "encoding/binary"

// node is one decoded value. Everything that can be read back from the input
// bytes (numbers, string lengths, class names, keys) is read back on access
// instead of being stored, which keeps a node at 20 bytes.
type node struct {
	start  uint32 // offset in Document.in of the value's type marker
	end    uint32 // offset one past the value's last byte
	first  uint32 // containers: index in Document.kids of the first child
	count  uint32 // containers: number of children
	keyLen uint16 // property values: length of the name, which ends at start
	kind   Kind
}

// Document holds decoded AMF0 values in flat, reusable storage. Decoding into
// a Document that has been used before allocates nothing once its storage
// has grown to fit the largest input seen.
//
// A Document keeps a reference to the input it decoded: the byte slices its
// Values return alias that input. They stay valid until the next Decode,
// DecodeOne or Reset on the Document, and only while the caller neither
// modifies nor reuses the input buffer.
//
// A Document is not safe for concurrent use. Values of a Document that no
// goroutine is decoding into may be read from several goroutines at once.
// A Document owns its storage and must not be copied: use a pointer.
type Document struct {
	_ noCopy

	in    []byte   // input, extended by DecodeOne
	nodes []node   // values in pre-order (serialization order)
	kids  []uint32 // children of every container, contiguous per container
	top   []uint32 // indexes in nodes of the top-level values
	stack []uint32 // scratch: children of the containers being decoded
}

// Reset empties the Document and drops its reference to the input, keeping
// its storage for reuse. Values obtained earlier become invalid.
func (d *Document) Reset() {
	d.in = nil
	d.nodes = d.nodes[:0]
	d.kids = d.kids[:0]
	d.top = d.top[:0]
	d.stack = d.stack[:0]
}

// Len returns the number of top-level values in the Document.
func (d *Document) Len() int { return len(d.top) }

// At returns the i-th top-level value, or the zero Value (Kind KindInvalid)
// when i is out of range. For a command message body, At(0) is the command
// name, At(1) the transaction ID and At(2) the command object.
func (d *Document) At(i int) Value {
	if uint(i) >= uint(len(d.top)) {
		return Value{}
	}
	return Value{d: d, i: d.top[i]}
}

// Decode resets the Document and decodes every value in b as a sequence of
// top-level values, as found in the body of an RTMP command or data message.
//
// On success n == len(b). On error the Document keeps the top-level values
// that decoded completely before the failure, n is the number of bytes they
// span, and err says why the next value was rejected; so a server can still
// read the command name of a command with malformed arguments.
//
// The Document aliases b: see the Document doc for how long that lasts.
func (d *Document) Decode(b []byte) (n int, err error) {
	d.Reset()
	if uint64(len(b)) > MaxInputLen {
		return 0, ErrInputTooLarge
	}
	d.in = b
	for n < len(b) {
		end, err := d.decodeTop(b, n)
		if err != nil {
			return n, err
		}
		n = end
	}
	return n, nil
}

// DecodeOne decodes exactly one value from the start of b and appends it as a
// new top-level value, for callers that walk a body value by value:
//
//	for len(b) > 0 {
//		n, err := d.DecodeOne(b)
//		if err != nil { ... }
//		b = b[n:]
//	}
//
// The first call after Reset (or on a new Document) adopts b as the
// Document's input. Later calls must pass a re-slice of that same buffer
// (such as b[n:] of the previous call) so that earlier values stay valid;
// anything else returns ErrInputMismatch. Decode resets the Document first
// and accepts any buffer.
//
// On error n is 0 and the Document is unchanged. The Document aliases b: see
// the Document doc for how long that lasts.
func (d *Document) DecodeOne(b []byte) (n int, err error) {
	if len(b) == 0 {
		return 0, ErrShort
	}
	off := 0
	if len(d.nodes) == 0 && len(d.top) == 0 {
		d.in = b
	} else {
		ca, cb := cap(d.in), cap(b)
		if ca == 0 || cb > ca || &d.in[:ca][ca-1] != &b[:cb][cb-1] {
			return 0, ErrInputMismatch
		}
		off = ca - cb
	}
	lim := off + len(b)
	if uint64(lim) > MaxInputLen {
		return 0, ErrInputTooLarge
	}
	if lim > len(d.in) {
		d.in = d.in[:lim]
	}
	end, err := d.decodeTop(d.in[:lim], off)
	if err != nil {
		return 0, err
	}
	return end - off, nil
}

// decodeTop decodes one top-level value of in at pos. On error it restores
// the Document to its state before the call.
func (d *Document) decodeTop(in []byte, pos int) (int, error) {
	nn, nk := len(d.nodes), len(d.kids)
	idx := uint32(nn)
	end, err := d.value(in, pos, 0, 0)
	if err != nil {
		d.nodes = d.nodes[:nn]
		d.kids = d.kids[:nk]
		d.stack = d.stack[:0]
		return 0, err
	}
	d.top = append(d.top, idx)
	return end, nil
}

// value decodes the value whose marker is at in[pos], appending its node (and
// its children's), and returns the offset just past it. keyLen is the length
// of the property name preceding it; depth is the number of containers
// enclosing it.
func (d *Document) value(in []byte, pos, keyLen, depth int) (int, error) {
	if pos >= len(in) {
		return 0, ErrShort
	}
	if len(d.nodes) >= MaxElements {
		return 0, ErrTooManyElements
	}
	m := in[pos]
	kind := markerKind[m]
	idx := len(d.nodes)
	d.nodes = append(d.nodes, node{start: uint32(pos), keyLen: uint16(keyLen), kind: kind})
	rest := len(in) - pos // bytes from the marker on
	var end int
	switch m {
	case markerNull, markerUndefined, markerUnsupported:
		end = pos + 1
	case markerBoolean:
		end = pos + 2
	case markerReference:
		end = pos + 3
	case markerNumber:
		end = pos + 9
	case markerDate:
		end = pos + 11
	case markerString:
		if rest < 3 {
			return 0, ErrShort
		}
		end = pos + 3 + int(binary.BigEndian.Uint16(in[pos+1:]))
	case markerLongString, markerXMLDocument:
		if rest < 5 {
			return 0, ErrShort
		}
		l := binary.BigEndian.Uint32(in[pos+1:])
		if uint64(l) > uint64(rest-5) {
			return 0, ErrShort
		}
		end = pos + 5 + int(l)
	case markerObject:
		if depth >= MaxDepth {
			return 0, ErrDepth
		}
		return d.props(in, idx, pos+1, depth+1)
	case markerECMAArray:
		if depth >= MaxDepth {
			return 0, ErrDepth
		}
		if rest < 5 {
			return 0, ErrShort
		}
		// The count is advisory (AMF0 section 2.10): the array ends at
		// the object-end marker whatever it says.
		return d.props(in, idx, pos+5, depth+1)
	case markerTypedObject:
		if depth >= MaxDepth {
			return 0, ErrDepth
		}
		if rest < 3 {
			return 0, ErrShort
		}
		cl := int(binary.BigEndian.Uint16(in[pos+1:]))
		if cl > rest-3 {
			return 0, ErrShort
		}
		return d.props(in, idx, pos+3+cl, depth+1)
	case markerStrictArray:
		if depth >= MaxDepth {
			return 0, ErrDepth
		}
		return d.strictArray(in, idx, pos, depth+1)
	case markerAVMPlus:
		l, err := skipAMF3(in[pos+1:], MaxDepth-depth)
		if err != nil {
			return 0, err
		}
		end = pos + 1 + l
	case markerObjectEnd:
		return 0, ErrUnexpectedObjectEnd
	case markerMovieClip, markerRecordSet:
		return 0, ErrReservedMarker
	default:
		return 0, ErrUnknownMarker
	}
	if end > len(in) {
		return 0, ErrShort
	}
	d.nodes[idx].end = uint32(end)
	return end, nil
}

// props decodes the property list of the container node idx, starting at pos
// and ending with an empty name followed by the object-end marker (AMF0
// sections 2.5 and 2.11). An empty name followed by any other marker is
// accepted as a property named "".
func (d *Document) props(in []byte, idx, pos, depth int) (int, error) {
	base := len(d.stack)
	for {
		if len(in)-pos < 3 {
			return 0, ErrShort
		}
		kl := int(binary.BigEndian.Uint16(in[pos:]))
		pos += 2
		if kl == 0 && in[pos] == markerObjectEnd {
			pos++
			break
		}
		if kl >= len(in)-pos {
			return 0, ErrShort // name plus at least a marker
		}
		pos += kl
		d.stack = append(d.stack, uint32(len(d.nodes)))
		var err error
		if pos, err = d.value(in, pos, kl, depth); err != nil {
			return 0, err
		}
	}
	d.close(idx, base, pos)
	return pos, nil
}

// strictArray decodes the strict array whose marker is at in[pos] into the
// container node idx.
func (d *Document) strictArray(in []byte, idx, pos, depth int) (int, error) {
	if len(in)-pos < 5 {
		return 0, ErrShort
	}
	count := binary.BigEndian.Uint32(in[pos+1:])
	pos += 5
	// Every element takes at least one byte: refuse counts the input
	// cannot hold before reading (or reserving room for) any of them.
	if uint64(count) > uint64(len(in)-pos) {
		return 0, ErrShort
	}
	if count > MaxStrictArrayLen {
		return 0, ErrStrictArrayTooLong
	}
	base := len(d.stack)
	for range count {
		d.stack = append(d.stack, uint32(len(d.nodes)))
		var err error
		if pos, err = d.value(in, pos, 0, depth); err != nil {
			return 0, err
		}
	}
	d.close(idx, base, pos)
	return pos, nil
}

// close moves the children collected on the stack since base into kids as
// the children of node idx, which ends at end.
func (d *Document) close(idx, base, end int) {
	n := &d.nodes[idx]
	n.end = uint32(end)
	n.first = uint32(len(d.kids))
	n.count = uint32(len(d.stack) - base)
	d.kids = append(d.kids, d.stack[base:]...)
	d.stack = d.stack[:base]
}
