package wsflv

import (
	"encoding/binary"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close status codes used by the server (RFC 6455 section 7.4).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseProtocolError = 1002
	CloseUnsupported   = 1003
	CloseTooBig        = 1009
	CloseInternal      = 1011
	// CloseTryAgainLater (1013, IANA WebSocket close code registry) is sent
	// when a budget refuses the play for now.
	CloseTryAgainLater = 1013
	// ClosePolicy is sent when an app handler refuses the play.
	ClosePolicy = 1008
	// CloseNotFound (application range) is sent for a stream that is not live.
	CloseNotFound = 4404
	// CloseNoStatus (1005) is what ReadClose reports for a close frame without
	// a status code. It is reserved: it is never sent (section 7.4.1).
	CloseNoStatus = 1005
)

// ValidCloseCode reports whether c may appear in a close frame on the wire
// (RFC 6455 section 7.4 and the IANA registry): 1000-1003, 1007-1014 and
// 3000-4999. Codes below 1000 are unused; 1004-1006 and 1015 are reserved and
// never sent; 1016-2999 are reserved for future extensions.
func ValidCloseCode(c uint16) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// Limits.
const (
	// MaxControlPayload is RFC 6455's limit on control frame payloads.
	MaxControlPayload = 125
	// MaxClientFrame bounds data frames from a play client, which has nothing to
	// send but control frames; larger frames close the connection.
	MaxClientFrame = 4096
	// MaxFrameHeader is the largest frame header (with mask key).
	MaxFrameHeader = 14
)

// FrameHeader is a parsed client frame header.
type FrameHeader struct {
	Fin    bool
	Opcode byte
	Masked bool
	Mask   [4]byte
	Length int
}

// ReadFrameHeader parses a client-to-server frame header from b. It returns the
// header length, or 0 with a nil error when more bytes are needed. Client frames
// must be masked (section 5.1), control frames must be final with at most 125
// bytes of payload, and data frames are capped at MaxClientFrame.
func ReadFrameHeader(b []byte) (FrameHeader, int, error) {
	var h FrameHeader
	if len(b) < 2 {
		return h, 0, nil
	}
	if b[0]&0x70 != 0 {
		return h, 0, ErrReservedBits
	}
	h.Fin = b[0]&0x80 != 0
	h.Opcode = b[0] & 0x0F
	h.Masked = b[1]&0x80 != 0
	n := 2
	l := int(b[1] & 0x7F)
	switch l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		l = int(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v > MaxClientFrame {
			return h, 0, ErrFrameTooLarge
		}
		l = int(v)
		n = 10
	}
	h.Length = l
	switch h.Opcode {
	case OpClose, OpPing, OpPong:
		if !h.Fin {
			return h, 0, ErrFragmentedCtrl
		}
		if l > MaxControlPayload {
			return h, 0, ErrControlTooLarge
		}
	case OpContinuation, OpText, OpBinary:
		if l > MaxClientFrame {
			return h, 0, ErrFrameTooLarge
		}
	default:
		return h, 0, ErrBadOpcode
	}
	if !h.Masked {
		return h, 0, ErrUnmasked
	}
	if len(b) < n+4 {
		return h, 0, nil
	}
	copy(h.Mask[:], b[n:n+4])
	return h, n + 4, nil
}

// Unmask XORs p in place with the mask key, starting at payload offset pos.
func Unmask(p []byte, key [4]byte, pos int) {
	for i := range p {
		p[i] ^= key[(pos+i)&3]
	}
}

// AppendFrameHeader appends an unmasked server-to-client frame header.
func AppendFrameHeader(dst []byte, fin bool, opcode byte, n int) []byte {
	b0 := opcode & 0x0F
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xFFFF:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendFrame appends a whole unmasked server frame.
func AppendFrame(dst []byte, opcode byte, payload []byte) []byte {
	return append(AppendFrameHeader(dst, true, opcode, len(payload)), payload...)
}

// AppendClose appends a close frame with a status code and a reason, truncated
// to fit a control frame.
func AppendClose(dst []byte, code uint16, reason string) []byte {
	if len(reason) > MaxControlPayload-2 {
		// Cut at a character boundary: the reason must stay valid UTF-8
		// (section 5.5.1), or browsers drop the connection as 1006.
		n := MaxControlPayload - 2
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	dst = AppendFrameHeader(dst, true, OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}
