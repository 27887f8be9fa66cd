package amf0

import (
	"encoding/binary"
	"math"
)

// Value is a read-only view of one decoded value: a Document pointer and an
// index, cheap to copy and compare. The zero Value is invalid (Kind
// KindInvalid) and every accessor on it returns a zero result, so lookups
// chain safely: doc.At(2).Get("app").Bytes() is nil when anything is missing.
//
// A Value is valid until the next Decode, DecodeOne or Reset on its Document
// (DecodeOne keeps existing Values valid). Byte slices returned by its methods
// alias the decoded input: they are valid for the same time and only while the
// caller neither modifies nor reuses the input buffer. Copy them (or use Str)
// to keep them longer. Accessors allocate nothing unless documented.
type Value struct {
	d *Document
	i uint32
}

func (v Value) node() *node {
	if v.d == nil {
		return nil
	}
	return &v.d.nodes[v.i]
}

// Kind returns the value's type, KindInvalid for the zero Value.
func (v Value) Kind() Kind {
	if v.d == nil {
		return KindInvalid
	}
	return v.d.nodes[v.i].kind
}

// Valid reports whether v refers to a decoded value.
func (v Value) Valid() bool { return v.d != nil }

// Number returns the value of a Number, or the milliseconds since the Unix
// epoch of a Date; 0 for other kinds.
func (v Value) Number() float64 {
	n := v.node()
	if n == nil || (n.kind != KindNumber && n.kind != KindDate) {
		return 0
	}
	return math.Float64frombits(binary.BigEndian.Uint64(v.d.in[n.start+1:]))
}

// Bool returns the value of a Boolean (any non-zero byte is true); false for
// other kinds.
func (v Value) Bool() bool {
	n := v.node()
	return n != nil && n.kind == KindBoolean && v.d.in[n.start+1] != 0
}

// Bytes returns the UTF-8 content of a String, LongString or XMLDocument, or
// the AMF3 encoding (without the 0x11 marker) of an AVMPlus value; nil for
// other kinds. The slice aliases the input: see Value for its lifetime.
func (v Value) Bytes() []byte {
	n := v.node()
	if n == nil {
		return nil
	}
	switch n.kind {
	case KindString:
		return v.d.in[n.start+3 : n.end : n.end]
	case KindLongString, KindXMLDocument:
		return v.d.in[n.start+5 : n.end : n.end]
	case KindAVMPlus:
		return v.d.in[n.start+1 : n.end : n.end]
	}
	return nil
}

// Str returns Bytes as a string. It allocates a copy, so it is meant for
// paths that are not hot (logging, configuration, keys kept past the next
// Decode); the result stays valid forever.
func (v Value) Str() string { return string(v.Bytes()) }

// Len returns the number of properties of an Object, ECMAArray or
// TypedObject (counted as decoded; an ECMA array's declared count is ignored)
// or the number of elements of a StrictArray; 0 for other kinds.
func (v Value) Len() int {
	n := v.node()
	if n == nil {
		return 0
	}
	return int(n.count)
}

// Field returns the i-th property of an Object, ECMAArray or TypedObject, in
// wire order: its name and value. For a StrictArray it returns a nil name and
// the i-th element. Out of range, or for other kinds, it returns nil and the
// zero Value. The name aliases the input: see Value for its lifetime.
func (v Value) Field(i int) (key []byte, val Value) {
	n := v.node()
	if n == nil || uint(i) >= uint(n.count) {
		return nil, Value{}
	}
	k := v.d.kids[n.first+uint32(i)]
	c := &v.d.nodes[k]
	if n.kind != KindStrictArray {
		key = v.d.in[c.start-uint32(c.keyLen) : c.start : c.start]
	}
	return key, Value{d: v.d, i: k}
}

// Get returns the value of the first property named key of an Object,
// ECMAArray or TypedObject, or the zero Value when there is none or v is not
// one of those kinds. It does not allocate; lookups are linear in the number
// of properties, which suits the small objects of RTMP commands.
func (v Value) Get(key string) Value {
	n := v.node()
	if n == nil || n.kind == KindStrictArray {
		return Value{}
	}
	d := v.d
	for _, k := range d.kids[n.first : n.first+n.count] {
		c := &d.nodes[k]
		if int(c.keyLen) == len(key) && string(d.in[c.start-uint32(c.keyLen):c.start]) == key {
			return Value{d: d, i: k}
		}
	}
	return Value{}
}

// Index returns the i-th element of a StrictArray (or the i-th property value
// of an Object, ECMAArray or TypedObject), or the zero Value when out of
// range. It takes constant time.
func (v Value) Index(i int) Value {
	n := v.node()
	if n == nil || uint(i) >= uint(n.count) {
		return Value{}
	}
	return Value{d: v.d, i: v.d.kids[n.first+uint32(i)]}
}

// ClassName returns the class name of a TypedObject; nil for other kinds. The
// slice aliases the input: see Value for its lifetime.
func (v Value) ClassName() []byte {
	n := v.node()
	if n == nil || n.kind != KindTypedObject {
		return nil
	}
	s := n.start + 3
	e := s + uint32(binary.BigEndian.Uint16(v.d.in[n.start+1:]))
	return v.d.in[s:e:e]
}

// TimeZone returns the time-zone field of a Date (the specification says it
// should be 0 and readers should ignore it); 0 for other kinds.
func (v Value) TimeZone() int16 {
	n := v.node()
	if n == nil || n.kind != KindDate {
		return 0
	}
	return int16(binary.BigEndian.Uint16(v.d.in[n.start+9:]))
}

// RefIndex returns the index carried by a Reference; 0 for other kinds. Use
// Deref to find the value it designates.
func (v Value) RefIndex() uint16 {
	n := v.node()
	if n == nil || n.kind != KindReference {
		return 0
	}
	return binary.BigEndian.Uint16(v.d.in[n.start+1:])
}

// Deref resolves a Reference: AMF0 numbers the complex values (Object,
// ECMAArray, StrictArray, TypedObject) of a message from 0 in the order they
// start, and a Reference designates one that started before it. Deref counts
// over the whole Document, which suits a Document holding one message body.
// It returns the zero Value when v is not a Reference or designates nothing.
// It takes time linear in the number of values before v.
func (v Value) Deref() Value {
	n := v.node()
	if n == nil || n.kind != KindReference {
		return Value{}
	}
	want := int(v.RefIndex())
	seen := 0
	for i, c := range v.d.nodes[:v.i] {
		switch c.kind {
		case KindObject, KindECMAArray, KindStrictArray, KindTypedObject:
			if seen == want {
				return Value{d: v.d, i: uint32(i)}
			}
			seen++
		}
	}
	return Value{}
}

// Raw returns the exact encoded bytes of the value, from its type marker to
// its last byte (for an AVMPlus value, the 0x11 marker and the AMF3 value; for
// containers, through the object-end marker). Property names are not part of
// it. The slice aliases the input: see Value for its lifetime.
func (v Value) Raw() []byte {
	n := v.node()
	if n == nil {
		return nil
	}
	return v.d.in[n.start:n.end:n.end]
}
