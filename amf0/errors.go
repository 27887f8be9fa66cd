package amf0

import "errors"

// Sentinel errors. Decoders return them unwrapped so that rejecting hostile
// input never allocates; callers match them with errors.Is and may wrap them
// with %w to add context.
var (
	// ErrShort reports that the input ends inside a value: a length field or a
	// container promises more bytes than are present. Command and data message
	// bodies are always complete, so for them this means a malformed body.
	ErrShort = errors.New("amf0: value truncated")

	// ErrReservedMarker reports a MovieClip (0x04) or RecordSet (0x0E) type
	// marker, which the specification reserves and no encoder may send.
	ErrReservedMarker = errors.New("amf0: reserved type marker (MovieClip or RecordSet)")

	// ErrUnknownMarker reports a type marker outside the AMF0 specification.
	ErrUnknownMarker = errors.New("amf0: unknown type marker")

	// ErrUnexpectedObjectEnd reports an object-end marker (0x09) where a value
	// is expected: at the top level, in a strict array, or after a non-empty
	// property name.
	ErrUnexpectedObjectEnd = errors.New("amf0: unexpected object-end marker")

	// ErrDepth reports nesting deeper than MaxDepth.
	ErrDepth = errors.New("amf0: nesting exceeds MaxDepth")

	// ErrTooManyElements reports a Document that would hold more than
	// MaxElements values.
	ErrTooManyElements = errors.New("amf0: document exceeds MaxElements values")

	// ErrStrictArrayTooLong reports a strict array declaring more than
	// MaxStrictArrayLen elements.
	ErrStrictArrayTooLong = errors.New("amf0: strict array longer than MaxStrictArrayLen")

	// ErrInputTooLarge reports an input longer than MaxInputLen.
	ErrInputTooLarge = errors.New("amf0: input longer than MaxInputLen")

	// ErrInputMismatch reports a DecodeOne call whose input is not a re-slice
	// of the buffer the Document is already decoding.
	ErrInputMismatch = errors.New("amf0: DecodeOne input is not a re-slice of the document's input")

	// ErrAMF3Unsupported reports an AMF3 value (after the AVM+ marker 0x11)
	// whose length cannot be determined without an AMF3 decoder: an
	// externalizable object, a traits reference that cannot be resolved, or
	// AMF3 nesting beyond the remaining depth budget.
	ErrAMF3Unsupported = errors.New("amf0: AMF3 value length cannot be determined")

	// ErrAMF3Marker reports an unknown AMF3 type marker inside an AVM+ value.
	ErrAMF3Marker = errors.New("amf0: unknown AMF3 type marker")

	// ErrGoValue: AppendAny was given a Go value it cannot encode.
	ErrGoValue = errors.New("amf0: Go value has no AMF0 encoding")
)
