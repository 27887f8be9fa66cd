// Package flvmux reads and writes the FLV container and the audio and video
// tag headers carried inside FLV tags and RTMP audio/video messages.
//
// It implements:
//
//   - Adobe Flash Video File Format Specification v10.1, Annex E: the FLV
//     header (E.2), the FLV file body with PreviousTagSize fields (E.3), FLV
//     tags (E.4.1), AudioTagHeader (E.4.2.1), VideoTagHeader (E.4.3.1) and
//     the onMetaData script data object (E.5).
//   - Veovera Enhanced RTMP v1 and v2: ExVideoTagHeader and ExAudioTagHeader
//     (sections "Enhanced Video" and "Enhanced Audio"), including FourCC codec
//     signalling, VideoPacketType/AudioPacketType, ModEx packets
//     (TimestampOffsetNano), the video command frame, Multitrack, and the
//     FourCC values allowed for videocodecid/audiocodecid in onMetaData
//     ("Enhancing onMetaData").
//
// The package is a pure codec: it does no I/O, starts no goroutines and keeps
// no global state besides sentinel errors and constant tables. Its functions
// are safe for concurrent use on distinct buffers; a Reader (and the
// amf0.Document given to ReadOnMetaData) belongs to one goroutine at a time. Decoders take
// bytes and return values plus a consumed count; decoded byte slices alias the
// input, and each API says how long they stay valid. Encoders append to a
// caller-owned slice (AppendX) and do not allocate when dst has capacity.
//
// Hostile input never panics and never makes the package allocate in
// proportion to a length field before the bytes are present: the Reader
// buffers only bytes it has actually received, bounded by Reader.MaxTagSize.
// Unknown codecs, packet types and multitrack types are reported through the
// header structs (Known returns false), not as errors; only truncated headers
// are errors.
package flvmux
