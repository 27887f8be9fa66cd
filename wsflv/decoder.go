package wsflv

import (
	"encoding/binary"
	"unicode/utf8"
)

// Frame is a client frame returned by FrameDecoder.Feed.
type Frame struct {
	Fin    bool
	Opcode byte
	// Length is the payload length the header announced.
	Length int
	// Payload is the unmasked payload of a control frame (ping, pong, close),
	// never nil for one (empty for an empty payload). It is nil for data
	// frames (text, binary, continuation), whose payload the decoder reads
	// past and discards. It is owned by the decoder and valid until the next
	// call to Feed or Reset.
	Payload []byte
}

// FrameDecoder is a push decoder for client-to-server WebSocket frames
// (RFC 6455 section 5). The zero value is ready to use.
//
// Every frame header goes through ReadFrameHeader, so the same rules apply:
// frames must be masked (section 5.1), reserved bits and opcodes are refused,
// control frames are final with at most MaxControlPayload bytes (section 5.5),
// and data frames are capped at MaxClientFrame. On top of that it checks the
// fragmentation sequence of data frames (section 5.4): a continuation frame
// outside a fragmented message, or a text or binary frame inside one, is
// ErrFragmentation. Control frames may come between fragments.
//
// A player has nothing to send but control frames, so data frames are never
// buffered: their payload is counted and discarded, and Feed returns them,
// once their last payload byte has been read, with their opcode and length
// and a nil Payload. Text payloads are therefore not checked for UTF-8
// (section 8.1 applies to payloads that are interpreted; these are not).
// Control frames are returned whole and unmasked in a buffer the decoder
// owns. Whatever a peer sends, a FrameDecoder holds no more than a frame
// header (MaxFrameHeader bytes) and one control payload (MaxControlPayload
// bytes), and Feed never allocates.
//
// Frames after a close frame are decoded like any others: stopping at the
// close (section 5.5.1) is the caller's business.
//
// A FrameDecoder is not safe for concurrent use; it belongs to the goroutine
// or event loop that reads the connection. It must not be copied after first
// use.
type FrameDecoder struct {
	_ noCopy

	hdr  [MaxFrameHeader]byte // header bytes received so far
	nhdr int                  // len of hdr in use

	h          FrameHeader // header of the frame being read, while inPayload
	inPayload  bool
	got        int  // payload bytes of h read so far
	fragmented bool // a fragmented data message is open (its last frame had FIN clear)
	err        error

	ctrl  [MaxControlPayload]byte // control payload, masked until complete
	frame Frame                   // what Feed returns a pointer to
}

// Feed consumes bytes from p and returns the number consumed, and the next
// complete frame if one was completed. It returns at most one frame per call
// and stops consuming right after that frame, so n may be less than len(p);
// the caller loops:
//
//	for len(p) > 0 {
//		n, f, err := d.Feed(p)
//		if err != nil {
//			// close the connection (1002)
//		}
//		p = p[n:]
//		if f != nil {
//			// handle f; f and f.Payload are valid until the next Feed
//		}
//	}
//
// With len(p) > 0, Feed either consumes at least one byte or returns an
// error, so the loop always ends. The frame is owned by the decoder and valid
// until the next call to Feed or Reset. Errors are the package's sentinels
// (ErrUnmasked, ErrReservedBits, ErrBadOpcode, ErrControlTooLarge,
// ErrFragmentedCtrl, ErrFrameTooLarge, ErrFragmentation); they are sticky:
// after one, every call returns it with n == 0. On error, n counts the bytes
// consumed before it; the stream cannot go on and the connection should be
// closed. The same bytes fed in any split give the same frames and the same
// error. Loop-only: call it from the goroutine that owns d.
func (d *FrameDecoder) Feed(p []byte) (n int, f *Frame, err error) {
	if d.err != nil {
		return 0, nil, d.err
	}
	for n < len(p) {
		if !d.inPayload {
			k := min(len(p)-n, MaxFrameHeader-d.nhdr)
			copy(d.hdr[d.nhdr:], p[n:n+k])
			h, hn, err := ReadFrameHeader(d.hdr[:d.nhdr+k])
			if err != nil {
				d.err = err
				return n, nil, err
			}
			if hn == 0 { // the whole rest of p is a partial header
				d.nhdr += k
				n += k
				break
			}
			n += hn - d.nhdr
			d.nhdr = 0
			switch h.Opcode {
			case OpContinuation:
				if !d.fragmented {
					d.err = ErrFragmentation
					return n, nil, d.err
				}
				d.fragmented = !h.Fin
			case OpText, OpBinary:
				if d.fragmented {
					d.err = ErrFragmentation
					return n, nil, d.err
				}
				d.fragmented = !h.Fin
			}
			d.h, d.got, d.inPayload = h, 0, true
		}
		k := min(len(p)-n, d.h.Length-d.got)
		if isControl(d.h.Opcode) {
			copy(d.ctrl[d.got:], p[n:n+k])
		}
		d.got += k
		n += k
		if d.got == d.h.Length {
			return n, d.complete(), nil
		}
	}
	return n, nil, nil
}

// complete ends the frame being read and returns it.
func (d *FrameDecoder) complete() *Frame {
	d.inPayload = false
	d.frame = Frame{Fin: d.h.Fin, Opcode: d.h.Opcode, Length: d.h.Length}
	if isControl(d.h.Opcode) {
		d.frame.Payload = d.ctrl[:d.h.Length]
		Unmask(d.frame.Payload, d.h.Mask, 0)
	}
	return &d.frame
}

// Reset makes d ready for a new stream, as the zero value is. A frame
// returned earlier is no longer valid. Loop-only, like Feed.
func (d *FrameDecoder) Reset() {
	d.nhdr, d.inPayload, d.got, d.fragmented, d.err = 0, false, 0, false, nil
	d.h, d.frame = FrameHeader{}, Frame{}
}

// isControl reports whether op is a control opcode (RFC 6455 section 5.5).
func isControl(op byte) bool { return op&0x8 != 0 }

// ReadClose parses the payload of a close frame (RFC 6455 section 5.5.1): an
// empty payload has no status code and gives CloseNoStatus; otherwise the
// first two bytes are a status code, which must be one ValidCloseCode
// accepts, and the rest is a reason, which must be valid UTF-8 (section
// 8.1). A one-byte payload, a code that may not be sent, or a reason that is
// not UTF-8 is ErrBadClose, to be answered with CloseProtocolError. reason
// aliases payload.
//
// To answer a close, echo code, or send CloseNormal for CloseNoStatus. It is
// pure and safe from any goroutine.
func ReadClose(payload []byte) (code uint16, reason []byte, err error) {
	switch {
	case len(payload) == 0:
		return CloseNoStatus, nil, nil
	case len(payload) == 1:
		return 0, nil, ErrBadClose
	}
	code = binary.BigEndian.Uint16(payload)
	if !ValidCloseCode(code) || !utf8.Valid(payload[2:]) {
		return 0, nil, ErrBadClose
	}
	return code, payload[2:], nil
}

// noCopy makes go vet's copylocks check report copies of the struct that
// holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
