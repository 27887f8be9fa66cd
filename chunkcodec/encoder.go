package chunkcodec

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// AppendMessage appends payload to dst as one RTMP message split into chunks
// of chunkSize bytes (RTMP specification 1.0, section 5.3): a type 0 header
// on the first chunk and type 3 headers on the rest. Because no header is
// compressed against an earlier message, the bytes depend only on h, payload
// and chunkSize: one encoding can be shared by every receiver whose inbound
// chunk size is chunkSize.
//
// A timestamp of 0xFFFFFF or more is written as an extended timestamp
// (section 5.3.1.3) in the type 0 header and repeated after every type 3
// header, as librtmp, OBS and FFmpeg expect.
//
// The message length written is len(payload); h.Length is ignored. chunkSize
// 0 means DefaultChunkSize. h.ChunkStreamID must be in [MinChunkStreamID,
// MaxChunkStreamID] and len(payload) at most MaxMessageLength: anything else
// is a programming error and panics. AppendMessage grows dst at most once
// (by EncodedLen) and does not allocate if dst has room. It keeps no state
// and is safe for concurrent use.
func AppendMessage(dst []byte, h Header, payload []byte, chunkSize uint32) []byte {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	csid := h.ChunkStreamID
	if csid < MinChunkStreamID || csid > MaxChunkStreamID {
		panic(fmt.Sprintf("chunkcodec: AppendMessage: chunk stream id %d out of range", csid))
	}
	if len(payload) > MaxMessageLength {
		panic(fmt.Sprintf("chunkcodec: AppendMessage: payload of %d bytes exceeds the 24-bit length", len(payload)))
	}
	dst = slices.Grow(dst, EncodedLen(h, len(payload), chunkSize))

	ts := h.Timestamp
	ext := ts >= extendedTimestampMarker
	field := min(ts, extendedTimestampMarker)
	n := uint32(len(payload))
	sid := h.StreamID

	dst = appendBasicHeader(dst, 0, csid)
	dst = append(dst,
		byte(field>>16), byte(field>>8), byte(field),
		byte(n>>16), byte(n>>8), byte(n),
		h.TypeID,
		byte(sid), byte(sid>>8), byte(sid>>16), byte(sid>>24))
	if ext {
		dst = binary.BigEndian.AppendUint32(dst, ts)
	}
	first := min(int(chunkSize), len(payload))
	dst = append(dst, payload[:first]...)
	payload = payload[first:]
	if len(payload) == 0 {
		return dst
	}

	// The type 3 header (plus extended timestamp) is the same for every
	// continuation chunk: build it once.
	var cont [3 + 4]byte
	c := appendBasicHeader(cont[:0], 3, csid)
	if ext {
		c = binary.BigEndian.AppendUint32(c, ts)
	}
	for len(payload) > 0 {
		k := min(int(chunkSize), len(payload))
		dst = append(dst, c...)
		dst = append(dst, payload[:k]...)
		payload = payload[k:]
	}
	return dst
}

// EncodedLen returns exactly how many bytes AppendMessage(dst, h, payload,
// chunkSize) appends for a payload of payloadLen bytes.
func EncodedLen(h Header, payloadLen int, chunkSize uint32) int {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	bh := basicHeaderLen(h.ChunkStreamID)
	ext := 0
	if h.Timestamp >= extendedTimestampMarker {
		ext = 4
	}
	chunks := 1
	if payloadLen > 0 {
		chunks = int((uint64(payloadLen) + uint64(chunkSize) - 1) / uint64(chunkSize))
	}
	return bh + 11 + ext + payloadLen + (chunks-1)*(bh+ext)
}
