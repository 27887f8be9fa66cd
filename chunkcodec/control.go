package chunkcodec

import (
	"encoding/binary"
	"fmt"
)

// Protocol control messages (RTMP specification 1.0, section 5.4) and user
// control messages (sections 6.2 and 7.1.7).
//
// Every AppendXxx function appends one complete message: a type 0 chunk
// header on ControlChunkStreamID, message stream 0, timestamp 0, followed by
// the payload. The payloads are at most 10 bytes and are written as a single
// chunk, which is correct for any outbound chunk size of 10 bytes or more
// (the smallest a sender may use in practice is the default 128). They do
// not allocate if dst has room, keep no state and are safe for concurrent
// use.
//
// The ParseXxx functions read a received message's payload. They do not
// retain p.

// appendControlHeader appends the chunk header of a control message with a
// payload of n bytes.
func appendControlHeader(dst []byte, typeID uint8, n int) []byte {
	// fmt 0 on chunk stream 2, timestamp 0, length n, type, message stream 0.
	return append(dst, ControlChunkStreamID, 0, 0, 0, 0, 0, byte(n), typeID, 0, 0, 0, 0)
}

func appendUint32Control(dst []byte, typeID uint8, v uint32) []byte {
	dst = appendControlHeader(dst, typeID, 4)
	return binary.BigEndian.AppendUint32(dst, v)
}

// AppendSetChunkSize appends a Set Chunk Size message (5.4.1) announcing
// that the sender's chunks will hold size bytes from now on. size should be
// in [1, MaxChunkSize]; it is written as given.
func AppendSetChunkSize(dst []byte, size uint32) []byte {
	return appendUint32Control(dst, TypeSetChunkSize, size)
}

// AppendAbort appends an Abort message (5.4.2) telling the peer to discard
// the partly received message on chunk stream csid.
func AppendAbort(dst []byte, csid uint32) []byte {
	return appendUint32Control(dst, TypeAbort, csid)
}

// AppendAck appends an Acknowledgement (5.4.3) of seq bytes received so far
// (see Decoder.AckDue).
func AppendAck(dst []byte, seq uint32) []byte {
	return appendUint32Control(dst, TypeAck, seq)
}

// AppendWindowAckSize appends a Window Acknowledgement Size message (5.4.4):
// the peer should acknowledge every size bytes it receives.
func AppendWindowAckSize(dst []byte, size uint32) []byte {
	return appendUint32Control(dst, TypeWindowAckSize, size)
}

// AppendSetPeerBandwidth appends a Set Peer Bandwidth message (5.4.5)
// limiting the peer's output to size bytes per window, with limit one of
// LimitHard, LimitSoft or LimitDynamic.
func AppendSetPeerBandwidth(dst []byte, size uint32, limit uint8) []byte {
	dst = appendControlHeader(dst, TypeSetPeerBandwidth, 5)
	dst = binary.BigEndian.AppendUint32(dst, size)
	return append(dst, limit)
}

// AppendUserControl appends a user control message (6.2, 7.1.7) whose event
// data is one 32-bit value: Stream Begin, Stream EOF, Stream Dry and Stream
// Is Recorded (a message stream id) or Ping Request and Ping Response (a
// timestamp). Use AppendSetBufferLength for Set Buffer Length.
func AppendUserControl(dst []byte, event uint16, data uint32) []byte {
	dst = appendControlHeader(dst, TypeUserControl, 6)
	dst = binary.BigEndian.AppendUint16(dst, event)
	return binary.BigEndian.AppendUint32(dst, data)
}

// AppendSetBufferLength appends a Set Buffer Length user control message:
// the client buffers ms milliseconds of message stream streamID.
func AppendSetBufferLength(dst []byte, streamID, ms uint32) []byte {
	dst = appendControlHeader(dst, TypeUserControl, 10)
	dst = binary.BigEndian.AppendUint16(dst, EventSetBufferLength)
	dst = binary.BigEndian.AppendUint32(dst, streamID)
	return binary.BigEndian.AppendUint32(dst, ms)
}

// AppendStreamBegin appends a Stream Begin user control message: message
// stream streamID is ready (sent after a successful play or publish).
func AppendStreamBegin(dst []byte, streamID uint32) []byte {
	return AppendUserControl(dst, EventStreamBegin, streamID)
}

// AppendStreamEOF appends a Stream EOF user control message: playback of
// streamID is over.
func AppendStreamEOF(dst []byte, streamID uint32) []byte {
	return AppendUserControl(dst, EventStreamEOF, streamID)
}

// AppendStreamDry appends a Stream Dry user control message: streamID has
// no more data for now.
func AppendStreamDry(dst []byte, streamID uint32) []byte {
	return AppendUserControl(dst, EventStreamDry, streamID)
}

// AppendStreamIsRecorded appends a Stream Is Recorded user control message.
func AppendStreamIsRecorded(dst []byte, streamID uint32) []byte {
	return AppendUserControl(dst, EventStreamIsRecorded, streamID)
}

// AppendPingRequest appends a Ping Request user control message carrying
// the sender's timestamp ts; the peer answers with a Ping Response.
func AppendPingRequest(dst []byte, ts uint32) []byte {
	return AppendUserControl(dst, EventPingRequest, ts)
}

// AppendPingResponse appends a Ping Response user control message echoing
// the timestamp ts of a Ping Request.
func AppendPingResponse(dst []byte, ts uint32) []byte {
	return AppendUserControl(dst, EventPingResponse, ts)
}

// ParseUint32Payload reads the big-endian 32-bit value that forms the payload
// of Set Chunk Size, Abort, Acknowledgement and Window Acknowledgement Size.
// Bytes after the first 4 are ignored; fewer fail with ErrShortPayload.
// The value is returned as sent (Set Chunk Size's bit 31 is not masked here;
// the Decoder masks it when it applies the message).
func ParseUint32Payload(p []byte) (uint32, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("%w: %d bytes, want 4", ErrShortPayload, len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}

// ParseSetPeerBandwidth reads a Set Peer Bandwidth payload: the window size
// and the limit type. Fewer than 5 bytes fail with ErrShortPayload.
func ParseSetPeerBandwidth(p []byte) (size uint32, limit uint8, err error) {
	if len(p) < 5 {
		return 0, 0, fmt.Errorf("%w: %d bytes, want 5", ErrShortPayload, len(p))
	}
	return binary.BigEndian.Uint32(p), p[4], nil
}

// UserControl is a decoded user control message (section 7.1.7).
type UserControl struct {
	// Event is the event type (EventStreamBegin, EventPingRequest, ...).
	Event uint16
	// Data is the first 32-bit value of the event data: a message stream
	// id, or the timestamp of a ping.
	Data uint32
	// BufferLength is the buffer length in milliseconds of a Set Buffer
	// Length event, 0 for other events.
	BufferLength uint32
}

// ParseUserControl reads a user control message payload. The known
// single-value events need 6 bytes and Set Buffer Length needs 10; fewer fail
// with ErrShortPayload. Events this package does not know (such as SWF
// verification or the buffer empty/ready events) are returned with Data set
// from the first 4 bytes after the event type when present, and no error,
// so that the caller can ignore them.
func ParseUserControl(p []byte) (UserControl, error) {
	if len(p) < 2 {
		return UserControl{}, fmt.Errorf("%w: user control of %d bytes", ErrShortPayload, len(p))
	}
	u := UserControl{Event: binary.BigEndian.Uint16(p)}
	need := 0
	switch u.Event {
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventStreamIsRecorded,
		EventPingRequest, EventPingResponse:
		need = 6
	case EventSetBufferLength:
		need = 10
	}
	if len(p) < need {
		return UserControl{}, fmt.Errorf("%w: user control event %d of %d bytes, want %d", ErrShortPayload, u.Event, len(p), need)
	}
	if len(p) >= 6 {
		u.Data = binary.BigEndian.Uint32(p[2:])
	}
	if u.Event == EventSetBufferLength {
		u.BufferLength = binary.BigEndian.Uint32(p[6:])
	}
	return u, nil
}
