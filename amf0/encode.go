package amf0

import (
	"encoding/binary"
	"math"
)

// Encoders append one AMF0 value (or part of one) to dst and return the
// extended slice, like strconv.AppendInt. They allocate only when dst lacks
// capacity, keep no reference to their arguments, and are safe for concurrent
// use on distinct dst buffers.
//
// Containers are written as a start, then the members, then an end:
//
//	b = amf0.AppendObjectStart(b)
//	b = amf0.AppendPropString(b, "level", "status")
//	b = amf0.AppendKey(b, "code")
//	b = amf0.AppendString(b, "NetStream.Publish.Start")
//	b = amf0.AppendObjectEnd(b)

// maxU16 is the longest name a U16 length can describe.
const maxU16 = math.MaxUint16

// AppendNumber appends a Number (AMF0 section 2.2).
func AppendNumber(dst []byte, f float64) []byte {
	dst = append(dst, markerNumber)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

// AppendBoolean appends a Boolean (AMF0 section 2.3), encoded as 0 or 1.
func AppendBoolean(dst []byte, b bool) []byte {
	if b {
		return append(dst, markerBoolean, 1)
	}
	return append(dst, markerBoolean, 0)
}

// AppendString appends s as a String (AMF0 section 2.4), or as a Long String
// (section 2.14) when it is longer than 65535 bytes. s should be UTF-8; it is
// written as is. On 64-bit platforms a string longer than 4 GiB - 1 is
// truncated to that length, the most the format can describe.
func AppendString(dst []byte, s string) []byte {
	if len(s) <= maxU16 {
		dst = append(dst, markerString, byte(len(s)>>8), byte(len(s)))
		return append(dst, s...)
	}
	s = s[:min(uint64(len(s)), math.MaxUint32)]
	dst = append(dst, markerLongString)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendStringBytes is AppendString for a byte slice.
func AppendStringBytes(dst []byte, s []byte) []byte {
	if len(s) <= maxU16 {
		dst = append(dst, markerString, byte(len(s)>>8), byte(len(s)))
		return append(dst, s...)
	}
	return appendLong(dst, markerLongString, s)
}

// AppendXMLDocument appends an XML Document (AMF0 section 2.17) holding the
// XML text s. Lengths beyond 4 GiB - 1 are truncated as in AppendString.
func AppendXMLDocument(dst []byte, s string) []byte {
	s = s[:min(uint64(len(s)), math.MaxUint32)]
	dst = append(dst, markerXMLDocument)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// appendLong appends marker, a U32 length and s (Long String or XML
// Document).
func appendLong(dst []byte, marker byte, s []byte) []byte {
	s = s[:min(uint64(len(s)), math.MaxUint32)]
	dst = append(dst, marker)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendNull appends a Null (AMF0 section 2.7).
func AppendNull(dst []byte) []byte { return append(dst, markerNull) }

// AppendUndefined appends an Undefined (AMF0 section 2.8).
func AppendUndefined(dst []byte) []byte { return append(dst, markerUndefined) }

// AppendUnsupported appends an Unsupported marker (AMF0 section 2.15).
func AppendUnsupported(dst []byte) []byte { return append(dst, markerUnsupported) }

// AppendReference appends a Reference to the complex value numbered idx
// (AMF0 section 2.9).
func AppendReference(dst []byte, idx uint16) []byte {
	return append(dst, markerReference, byte(idx>>8), byte(idx))
}

// AppendDate appends a Date (AMF0 section 2.13): ms is milliseconds since
// the Unix epoch (UTC); tz is the reserved time-zone field, which should be 0.
func AppendDate(dst []byte, ms float64, tz int16) []byte {
	dst = append(dst, markerDate)
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(ms))
	return append(dst, byte(uint16(tz)>>8), byte(tz))
}

// AppendObjectStart appends the marker that starts an anonymous Object (AMF0
// section 2.5). Follow it with properties (AppendKey and a value, or the
// AppendProp helpers) and AppendObjectEnd.
func AppendObjectStart(dst []byte) []byte { return append(dst, markerObject) }

// AppendKey appends a property name (a U16 length and the UTF-8 bytes, no
// type marker) inside an Object, ECMA Array or Typed Object. Follow it with
// exactly one value. Names longer than 65535 bytes are truncated to 65535.
// An empty name followed by a value other than the object end is legal and
// decodes as a property named "".
func AppendKey(dst []byte, key string) []byte {
	key = key[:min(len(key), maxU16)]
	dst = append(dst, byte(len(key)>>8), byte(len(key)))
	return append(dst, key...)
}

func appendKeyBytes(dst []byte, key []byte) []byte {
	key = key[:min(len(key), maxU16)]
	dst = append(dst, byte(len(key)>>8), byte(len(key)))
	return append(dst, key...)
}

// AppendObjectEnd appends the end of an Object, ECMA Array or Typed Object:
// an empty name followed by the object-end marker (0x00 0x00 0x09, AMF0
// section 2.11).
func AppendObjectEnd(dst []byte) []byte { return append(dst, 0, 0, markerObjectEnd) }

// AppendECMAArrayStart appends the start of an ECMA Array (AMF0 section
// 2.10) announcing count properties. Follow it with the properties and
// AppendObjectEnd. Decoders (including this package's) treat count as a hint.
func AppendECMAArrayStart(dst []byte, count uint32) []byte {
	dst = append(dst, markerECMAArray)
	return binary.BigEndian.AppendUint32(dst, count)
}

// AppendStrictArrayStart appends the start of a Strict Array (AMF0 section
// 2.12) of count elements. Follow it with exactly count values; there is no
// end marker.
func AppendStrictArrayStart(dst []byte, count uint32) []byte {
	dst = append(dst, markerStrictArray)
	return binary.BigEndian.AppendUint32(dst, count)
}

// AppendTypedObjectStart appends the start of a Typed Object (AMF0 section
// 2.18) of the given class. Follow it with properties and AppendObjectEnd.
// Class names longer than 65535 bytes are truncated to 65535.
func AppendTypedObjectStart(dst []byte, class string) []byte {
	dst = append(dst, markerTypedObject)
	return AppendKey(dst, class)
}

// AppendAVMPlus appends the AVM+ marker (AMF0 section 3.1) followed by amf3,
// which must be exactly one AMF3-encoded value; it is copied as is.
func AppendAVMPlus(dst []byte, amf3 []byte) []byte {
	dst = append(dst, markerAVMPlus)
	return append(dst, amf3...)
}

// AppendPropString appends a property key with a String (or Long String)
// value.
func AppendPropString(dst []byte, key, val string) []byte {
	return AppendString(AppendKey(dst, key), val)
}

// AppendPropNumber appends a property key with a Number value.
func AppendPropNumber(dst []byte, key string, f float64) []byte {
	return AppendNumber(AppendKey(dst, key), f)
}

// AppendPropBool appends a property key with a Boolean value.
func AppendPropBool(dst []byte, key string, b bool) []byte {
	return AppendBoolean(AppendKey(dst, key), b)
}

// AppendPropNull appends a property key with a Null value.
func AppendPropNull(dst []byte, key string) []byte {
	return append(AppendKey(dst, key), markerNull)
}

// AppendCommandStart appends the first two values of an RTMP command message
// body: the command name as a String and the transaction ID as a Number.
// Callers then append the command object (or Null) and any arguments.
func AppendCommandStart(dst []byte, name string, txID float64) []byte {
	return AppendNumber(AppendString(dst, name), txID)
}

// AppendStatusObject appends the info Object of an RTMP status reply:
// {level, code, description}, in that order. level is "status", "warning"
// or "error"; code is a dotted code such as "NetStream.Play.Start".
func AppendStatusObject(dst []byte, level, code, description string) []byte {
	dst = append(dst, markerObject)
	dst = AppendPropString(dst, "level", level)
	dst = AppendPropString(dst, "code", code)
	dst = AppendPropString(dst, "description", description)
	return AppendObjectEnd(dst)
}

// AppendOnStatus appends the complete AMF0 body of an onStatus command:
// "onStatus", txID (normally 0), Null, and the status object built by
// AppendStatusObject.
func AppendOnStatus(dst []byte, txID float64, level, code, description string) []byte {
	dst = AppendCommandStart(dst, "onStatus", txID)
	dst = append(dst, markerNull)
	return AppendStatusObject(dst, level, code, description)
}

// AppendValue appends the encoding of a decoded value, re-encoding it from
// its parts, so decoding its output yields an equal value. The output equals
// v.Raw() except that a Boolean is written as 0 or 1 and an ECMA Array
// announces its actual number of properties; Numbers and Dates keep their
// exact bits and AVMPlus values are copied byte for byte. It appends nothing
// for the zero Value.
//
// It reads v's Document and input, so it must not run concurrently with a
// Decode into that Document.
func AppendValue(dst []byte, v Value) []byte {
	n := v.node()
	if n == nil {
		return dst
	}
	switch n.kind {
	case KindNumber:
		return append(dst, v.d.in[n.start:n.start+9]...)
	case KindBoolean:
		return AppendBoolean(dst, v.Bool())
	case KindString:
		return AppendStringBytes(dst, v.Bytes())
	case KindLongString:
		return appendLong(dst, markerLongString, v.Bytes())
	case KindXMLDocument:
		return appendLong(dst, markerXMLDocument, v.Bytes())
	case KindNull:
		return append(dst, markerNull)
	case KindUndefined:
		return append(dst, markerUndefined)
	case KindUnsupported:
		return append(dst, markerUnsupported)
	case KindReference:
		return AppendReference(dst, v.RefIndex())
	case KindDate:
		return append(dst, v.d.in[n.start:n.start+11]...)
	case KindAVMPlus:
		return append(dst, v.d.in[n.start:n.end]...)
	case KindStrictArray:
		dst = AppendStrictArrayStart(dst, n.count)
		for i := range int(n.count) {
			dst = AppendValue(dst, v.Index(i))
		}
		return dst
	case KindObject:
		dst = append(dst, markerObject)
	case KindECMAArray:
		dst = AppendECMAArrayStart(dst, n.count)
	case KindTypedObject:
		dst = append(dst, markerTypedObject)
		dst = appendKeyBytes(dst, v.ClassName())
	}
	for i := range int(n.count) {
		k, c := v.Field(i)
		dst = AppendValue(appendKeyBytes(dst, k), c)
	}
	return AppendObjectEnd(dst)
}
