package chunkcodec

// Message type ids (RTMP specification 1.0, sections 5.4 and 7.1).
const (
	TypeSetChunkSize     uint8 = 1  // protocol control: Set Chunk Size (5.4.1)
	TypeAbort            uint8 = 2  // protocol control: Abort Message (5.4.2)
	TypeAck              uint8 = 3  // protocol control: Acknowledgement (5.4.3)
	TypeUserControl      uint8 = 4  // user control message (6.2, 7.1.7)
	TypeWindowAckSize    uint8 = 5  // protocol control: Window Acknowledgement Size (5.4.4)
	TypeSetPeerBandwidth uint8 = 6  // protocol control: Set Peer Bandwidth (5.4.5)
	TypeAudio            uint8 = 8  // audio data (7.1.4)
	TypeVideo            uint8 = 9  // video data (7.1.5)
	TypeDataAMF3         uint8 = 15 // data message, AMF3 (7.1.2)
	TypeSharedObjectAMF3 uint8 = 16 // shared object message, AMF3 (7.1.3)
	TypeCommandAMF3      uint8 = 17 // command message, AMF3 (7.1.1)
	TypeDataAMF0         uint8 = 18 // data message, AMF0 (7.1.2)
	TypeSharedObjectAMF0 uint8 = 19 // shared object message, AMF0 (7.1.3)
	TypeCommandAMF0      uint8 = 20 // command message, AMF0 (7.1.1)
	TypeAggregate        uint8 = 22 // aggregate message (7.1.6)
)

// Chunking limits and defaults.
const (
	// DefaultChunkSize is the chunk size both directions start with
	// (section 5.4.1) until a Set Chunk Size message changes it.
	DefaultChunkSize = 128

	// MaxChunkSize is the largest chunk size the 31-bit Set Chunk Size field
	// can express.
	MaxChunkSize = 0x7FFFFFFF

	// MinChunkStreamID and MaxChunkStreamID bound the chunk stream ids the
	// basic header can carry (section 5.3.1.1); ids 0 and 1 are reserved
	// for the 2- and 3-byte header forms. Id 2 is the control chunk stream.
	MinChunkStreamID = 2
	MaxChunkStreamID = 65599

	// MaxMessageLength is the largest message length the 24-bit length
	// field can express.
	MaxMessageLength = 0xFFFFFF

	// DefaultMaxMessageSize is the default cap on one message's length
	// (DecoderConfig.MaxMessageSize): 8 MiB, far above any keyframe a live
	// encoder sends.
	DefaultMaxMessageSize = 8 << 20

	// DefaultMaxChunkStreams is the default cap on the number of distinct
	// chunk stream ids one connection may use (DecoderConfig.MaxChunkStreams).
	// Real publishers use fewer than ten.
	DefaultMaxChunkStreams = 64
	// DefaultMaxBufferedBytes caps bytes held in partial messages per Decoder.
	DefaultMaxBufferedBytes = 16 << 20
	// DefaultMaxKeptBytes caps the buffer capacity a Decoder keeps between
	// messages: room for a large keyframe and the audio beside it.
	DefaultMaxKeptBytes = 4 << 20

	// DefaultMaxInboundChunkSize is the default cap on the chunk size a peer
	// may announce with Set Chunk Size (DecoderConfig.MaxInboundChunkSize):
	// 1 MiB. Encoders use 4096 to 65536.
	DefaultMaxInboundChunkSize = 1 << 20
)

// ControlChunkStreamID is the chunk stream that carries protocol control and
// user control messages (sections 5.4 and 6.2), always on message stream 0.
const ControlChunkStreamID = 2

// Outbound chunk stream ids of a server: one per message kind, the same for
// every player, so that a message chunk-encoded once is the same bytes for
// all of them (live and recorded plays alike).
const (
	ChunkStreamCommand = 3
	ChunkStreamData    = 5
	ChunkStreamAudio   = 6
	ChunkStreamVideo   = 7
	// PlayStreamID is the message stream id a server sends a player's media
	// on: 1, what a connection's first createStream gets, which is what
	// FFmpeg, OBS, librtmp and VLC play on.
	PlayStreamID = 1
)

// ChunkStreamFor returns the outbound chunk stream of a message of typeID:
// audio, video, and everything else (data) on its own.
func ChunkStreamFor(typeID uint8) uint32 {
	switch typeID {
	case TypeAudio:
		return ChunkStreamAudio
	case TypeVideo:
		return ChunkStreamVideo
	}
	return ChunkStreamData
}

// User control event types (section 7.1.7).
const (
	EventStreamBegin      uint16 = 0 // data: message stream id now in use
	EventStreamEOF        uint16 = 1 // data: message stream id whose playback ended
	EventStreamDry        uint16 = 2 // data: message stream id with no more data for now
	EventSetBufferLength  uint16 = 3 // data: message stream id, then buffer length in ms
	EventStreamIsRecorded uint16 = 4 // data: message stream id that is recorded
	EventPingRequest      uint16 = 6 // data: server timestamp to echo
	EventPingResponse     uint16 = 7 // data: the timestamp from the Ping Request
)

// Limit types of Set Peer Bandwidth (section 5.4.5).
const (
	LimitHard    uint8 = 0 // limit output bandwidth to the window size
	LimitSoft    uint8 = 1 // limit to the window size or the current limit, whichever is smaller
	LimitDynamic uint8 = 2 // hard if the previous limit was hard, otherwise ignore
)

// extendedTimestampMarker in a header's 24-bit timestamp field means the
// real value follows as a 32-bit extended timestamp (section 5.3.1.3).
const extendedTimestampMarker = 0xFFFFFF

// Header is an RTMP message header as carried by the chunk stream.
type Header struct {
	// ChunkStreamID is the chunk stream the message travelled on
	// (MinChunkStreamID to MaxChunkStreamID).
	ChunkStreamID uint32
	// Timestamp is the message's absolute timestamp in milliseconds. It is
	// 32 bits and wraps around at 2^32 (section 5.3.1.2.1 and 5.3.1.3).
	Timestamp uint32
	// Length is the payload length in bytes (24 bits on the wire).
	Length uint32
	// TypeID is the message type (TypeAudio, TypeCommandAMF0, ...).
	TypeID uint8
	// StreamID is the message stream id. It is the one little-endian field
	// of the chunk header; Header holds its numeric value.
	StreamID uint32
}

// Message is one complete RTMP message: its header and its payload.
//
// A *Message returned by Decoder.Feed, and its Payload, are owned by the
// Decoder and valid only until the next call to Feed or Release on that
// Decoder; copy what must outlive that.
type Message struct {
	Header
	Payload []byte
}

// basicHeaderLen returns the size of the chunk basic header for csid
// (section 5.3.1.1), which must be in [MinChunkStreamID, MaxChunkStreamID].
func basicHeaderLen(csid uint32) int {
	switch {
	case csid < 64:
		return 1
	case csid < 320:
		return 2
	default:
		return 3
	}
}

// appendBasicHeader appends the shortest basic header for fmt and csid.
func appendBasicHeader(dst []byte, fmt uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, fmt<<6|byte(csid))
	case csid < 320:
		return append(dst, fmt<<6, byte(csid-64))
	default:
		v := csid - 64
		return append(dst, fmt<<6|1, byte(v), byte(v>>8))
	}
}
