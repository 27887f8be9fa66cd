// Package amf0 decodes and encodes Action Message Format version 0, the
// serialization RTMP uses for command messages (connect, createStream,
// publish, play, _result, onStatus) and data messages (@setDataFrame,
// onMetaData), as defined by Adobe's "Action Message Format -- AMF 0"
// specification (the AMF0 File Format Specification).
//
// # What it implements
//
// Every type of section 2: Number (2.2), Boolean (2.3), String (2.4), Object
// (2.5), null (2.7), undefined (2.8), Reference (2.9), ECMA Array (2.10),
// Object End (2.11), Strict Array (2.12), Date (2.13), Long String (2.14),
// Unsupported (2.15), XML Document (2.17) and Typed Object (2.18), with the
// string rules of section 1.3.1. MovieClip (2.6) and RecordSet (2.16) are
// reserved and rejected with ErrReservedMarker.
//
// The AVM+ type marker of section 3.1 switches one value to AMF3. The
// package does not decode AMF3: it measures the value (SkipAMF3, following
// the "AMF 3 Specification", sections 1.3.1 and 3.2 to 3.16) and exposes its
// bytes as a KindAVMPlus value. Externalizable objects, whose length only
// their class knows, yield ErrAMF3Unsupported. Trait references are resolved
// against traits defined earlier in the same AMF3 value.
//
// Two deliberate leniencies match what encoders send: an ECMA Array's count
// is only a hint (the array ends at its object-end marker, and Value.Len
// reports the properties actually present), and a property with an empty name
// followed by a value other than the object-end marker is kept as a property
// named "". String contents are passed through as bytes, not validated as
// UTF-8.
//
// # Decoding
//
// A Document decodes a message body into flat storage that it reuses, so
// steady-state decoding allocates nothing. Values are small views (Value) of
// the Document; strings, names and raw encodings alias the input instead of
// being copied, and are valid until the Document is next decoded into or
// reset, and only while the input buffer is left untouched:
//
//	var doc amf0.Document // one per connection, reused
//	if _, err := doc.Decode(body); err != nil { ... }
//	name := doc.At(0).Bytes()              // "connect"
//	app := doc.At(2).Get("app").Bytes()    // aliases body
//
// Hostile input cannot make the decoder panic or allocate more than a small
// constant times the input size: lengths and counts are checked against the
// bytes present before use, and MaxDepth, MaxElements and MaxStrictArrayLen
// bound nesting and size. Errors are the sentinels of errors.go.
//
// # Encoding
//
// Encoders append to a caller-owned slice (AppendNumber, AppendString,
// AppendObjectStart, AppendKey, AppendObjectEnd, ...), allocating nothing
// when it has room. AppendCommandStart, AppendStatusObject and AppendOnStatus
// build the RTMP replies a server sends most. AppendValue re-encodes a
// decoded value.
//
// The package is pure: it does no I/O, keeps no global state and starts no
// goroutines.
package amf0
