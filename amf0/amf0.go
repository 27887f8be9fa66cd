package amf0

import (
	"math"
	"strconv"
)

// Limits applied while decoding. They bound the memory and work hostile input
// can cause; every byte of a Document's storage is backed by at least one byte
// of input, and no length field is trusted before its bytes are present.
const (
	// MaxDepth is the deepest nesting of containers (Object, ECMA Array,
	// Strict Array, Typed Object, and AMF3 arrays, objects, vectors and
	// dictionaries inside an AVM+ value) that a decoder accepts. A
	// top-level Object is at depth 1.
	MaxDepth = 32

	// MaxElements is the largest number of values (top-level values plus
	// every nested property value and array element) one Document holds.
	MaxElements = 65536

	// MaxStrictArrayLen is the largest element count a Strict Array may
	// declare. Counts are also checked against the bytes present (every
	// element takes at least one byte) before any element is read.
	MaxStrictArrayLen = MaxElements

	// MaxInputLen is the longest input a Document decodes: offsets are
	// stored as uint32.
	MaxInputLen = math.MaxUint32

	// MaxAMF3Traits is how many AMF3 object trait definitions the AVM+
	// skipper remembers within one AMF3 value so that later traits
	// references can be measured. A reference to a trait it did not
	// remember yields ErrAMF3Unsupported.
	MaxAMF3Traits = 32
)

// AMF0 type markers (AMF0 specification, section 2.1).
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerMovieClip   = 0x04 // reserved
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0A
	markerDate        = 0x0B
	markerLongString  = 0x0C
	markerUnsupported = 0x0D
	markerRecordSet   = 0x0E // reserved
	markerXMLDocument = 0x0F
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// Kind is the type of a decoded Value. The zero Kind, KindInvalid, is what a
// missing or out-of-range Value reports.
type Kind uint8

// Kinds, one per AMF0 type that carries a value (AMF0 specification,
// section 2.1). Object End is not a Kind: it only terminates containers.
const (
	KindInvalid     Kind = iota // no value
	KindNumber                  // 0x00, IEEE-754 double (section 2.2)
	KindBoolean                 // 0x01 (section 2.3)
	KindString                  // 0x02, UTF-8 with a U16 length (section 2.4)
	KindObject                  // 0x03, anonymous object (section 2.5)
	KindNull                    // 0x05 (section 2.7)
	KindUndefined               // 0x06 (section 2.8)
	KindReference               // 0x07, U16 index of an earlier complex value (section 2.9)
	KindECMAArray               // 0x08, associative array (section 2.10)
	KindStrictArray             // 0x0A, dense array (section 2.12)
	KindDate                    // 0x0B, milliseconds since the epoch plus a time zone (section 2.13)
	KindLongString              // 0x0C, UTF-8 with a U32 length (section 2.14)
	KindUnsupported             // 0x0D (section 2.15)
	KindXMLDocument             // 0x0F, XML text with a U32 length (section 2.17)
	KindTypedObject             // 0x10, object with a class name (section 2.18)
	KindAVMPlus                 // 0x11, one AMF3 value embedded in AMF0 (section 3.1)
)

var kindNames = [...]string{
	KindInvalid:     "Invalid",
	KindNumber:      "Number",
	KindBoolean:     "Boolean",
	KindString:      "String",
	KindObject:      "Object",
	KindNull:        "Null",
	KindUndefined:   "Undefined",
	KindReference:   "Reference",
	KindECMAArray:   "ECMAArray",
	KindStrictArray: "StrictArray",
	KindDate:        "Date",
	KindLongString:  "LongString",
	KindUnsupported: "Unsupported",
	KindXMLDocument: "XMLDocument",
	KindTypedObject: "TypedObject",
	KindAVMPlus:     "AVMPlus",
}

// String returns the Kind's name, such as "Number" or "ECMAArray".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// markerKind maps a type marker to the Kind it starts; KindInvalid for
// object-end, reserved and unknown markers.
var markerKind = [256]Kind{
	markerNumber:      KindNumber,
	markerBoolean:     KindBoolean,
	markerString:      KindString,
	markerObject:      KindObject,
	markerNull:        KindNull,
	markerUndefined:   KindUndefined,
	markerReference:   KindReference,
	markerECMAArray:   KindECMAArray,
	markerStrictArray: KindStrictArray,
	markerDate:        KindDate,
	markerLongString:  KindLongString,
	markerUnsupported: KindUnsupported,
	markerXMLDocument: KindXMLDocument,
	markerTypedObject: KindTypedObject,
	markerAVMPlus:     KindAVMPlus,
}
