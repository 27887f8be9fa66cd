package main

import (
	"encoding/binary"

	"github.com/quaverlive/quaver/flvmux"
)

// The latency stamp is an H.264 SEI NAL unit (ITU-T H.264 section 7.3.2.3,
// nal_unit_type 6) holding one user_data_unregistered message (Annex D.1.7,
// payloadType 5): a 16-byte UUID, then the publisher's send time as 8 bytes of
// Unix nanoseconds and the frame's sequence number as 8 bytes, both
// big-endian. It is put first in each video frame, length-prefixed as in
// AVCC (4-byte NAL lengths), so any server that forwards the frame's bytes
// carries it to the players, which read it back with ReadStamp.

// stampUUID identifies rtmpbench's user_data_unregistered message.
var stampUUID = [16]byte{'q', 'u', 'a', 'v', 'e', 'r', '-', 'r', 't', 'm', 'p', 'b', 'e', 'n', 'c', 'h'}

const (
	// nalTypeSEI is the nal_unit_type of an SEI NAL unit.
	nalTypeSEI = 6
	// seiUserDataUnregistered is the SEI payloadType of user_data_unregistered.
	seiUserDataUnregistered = 5
	// stampPayloadSize is the size of the stamp's SEI payload: UUID, time, sequence.
	stampPayloadSize = 16 + 8 + 8
	// stampRBSPSize is the SEI RBSP: payloadType, payloadSize, payload, trailing bits.
	stampRBSPSize = 1 + 1 + stampPayloadSize + 1
	// maxStampNAL bounds the escaped NAL unit: its header and an RBSP in which
	// at most every third byte needs an emulation prevention byte.
	maxStampNAL = 1 + stampRBSPSize + stampRBSPSize/2 + 1
	// maxStampNALsScanned is how many NAL units of a frame ReadStamp looks at.
	maxStampNALsScanned = 4
	// maxSEIScan is how many unescaped RBSP bytes of an SEI NAL ReadStamp
	// examines looking for the stamp message.
	maxSEIScan = 128
)

// AppendStamp appends a 4-byte length prefix and an SEI NAL unit carrying
// sendUnixNano and seq, with emulation prevention bytes inserted, and returns
// the extended slice. It does not allocate when dst has room for
// 4+maxStampNAL more bytes.
func AppendStamp(dst []byte, sendUnixNano int64, seq uint64) []byte {
	var rbsp [stampRBSPSize]byte
	rbsp[0] = seiUserDataUnregistered
	rbsp[1] = stampPayloadSize
	copy(rbsp[2:], stampUUID[:])
	binary.BigEndian.PutUint64(rbsp[18:], uint64(sendUnixNano))
	binary.BigEndian.PutUint64(rbsp[26:], seq)
	rbsp[34] = 0x80 // rbsp_stop_one_bit and alignment zeros

	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0, nalTypeSEI) // length filled in below; nal_ref_idc 0
	dst = appendEscaped(dst, rbsp[:])
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst
}

// appendEscaped appends rbsp with an emulation_prevention_three_byte inserted
// wherever two zero bytes would be followed by a byte <= 3 (H.264 7.4.1).
func appendEscaped(dst, rbsp []byte) []byte {
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// unescape copies the RBSP of an escaped NAL payload into dst (removing
// emulation prevention bytes) until dst is full or src is used up, and
// returns the number of bytes written.
func unescape(dst, src []byte) int {
	n, zeros := 0, 0
	for _, b := range src {
		if n == len(dst) {
			break
		}
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		dst[n] = b
		n++
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return n
}

// ReadStamp finds rtmpbench's latency stamp in a video message payload (an FLV
// video tag body): legacy AVC NALU packets and Enhanced RTMP avc1 coded
// frames, with 4-byte NAL lengths. It looks at the first few NAL units only.
// ok is false when the payload carries no stamp. It does not allocate.
func ReadStamp(payload []byte) (sendUnixNano int64, seq uint64, ok bool) {
	off := 0
	switch {
	case len(payload) >= 5 && payload[0]&0x80 == 0 && payload[0]&0x0f == flvmux.CodecAVC && payload[1] == flvmux.AVCNALU:
		off = 5
	case len(payload) > 0 && payload[0]&0x80 != 0:
		h, err := flvmux.ReadVideoHeader(payload)
		if err != nil || h.Multitrack || h.FourCC != flvmux.FourCCAVC1 ||
			(h.PacketType != flvmux.VideoPacketCodedFrames && h.PacketType != flvmux.VideoPacketCodedFramesX) {
			return 0, 0, false
		}
		off = h.HeaderLen
	default:
		return 0, 0, false
	}
	for i := 0; i < maxStampNALsScanned && off+4 < len(payload); i++ {
		n := int(binary.BigEndian.Uint32(payload[off:]))
		off += 4
		if n <= 0 || n > len(payload)-off {
			return 0, 0, false
		}
		nal := payload[off : off+n]
		off += n
		if nal[0]&0x1f != nalTypeSEI {
			continue
		}
		if t, s, found := readStampSEI(nal[1:]); found {
			return t, s, true
		}
	}
	return 0, 0, false
}

// readStampSEI walks the SEI messages of an escaped SEI NAL payload (after the
// NAL header) and decodes the first rtmpbench stamp among its first
// maxSEIScan RBSP bytes.
func readStampSEI(escaped []byte) (sendUnixNano int64, seq uint64, ok bool) {
	var buf [maxSEIScan]byte
	rbsp := buf[:unescape(buf[:], escaped)]
	for len(rbsp) > 0 && rbsp[0] != 0x80 { // 0x80: rbsp trailing bits
		ptype, n := readSEIValue(rbsp)
		if n == 0 {
			return 0, 0, false
		}
		rbsp = rbsp[n:]
		size, n := readSEIValue(rbsp)
		if n == 0 {
			return 0, 0, false
		}
		rbsp = rbsp[n:]
		if size > len(rbsp) {
			return 0, 0, false
		}
		if ptype == seiUserDataUnregistered && size >= stampPayloadSize && [16]byte(rbsp[:16]) == stampUUID {
			return int64(binary.BigEndian.Uint64(rbsp[16:])), binary.BigEndian.Uint64(rbsp[24:]), true
		}
		rbsp = rbsp[size:]
	}
	return 0, 0, false
}

// readSEIValue reads an SEI payloadType or payloadSize: a run of 0xFF bytes
// (255 each) and a final byte. n is 0 when b ends first.
func readSEIValue(b []byte) (v, n int) {
	for n < len(b) {
		c := b[n]
		n++
		v += int(c)
		if c != 0xff {
			return v, n
		}
	}
	return 0, 0
}
