package flvmux

// What the Enhanced RTMP v2 ExAudioTagHeader and ExVideoTagHeader share
// after the first byte: ModEx packets, then either a FourCC or the
// multitrack prefix (AvMultitrackType, the packet type and the first track's
// FourCC, id and size).

// AvMultitrackType values (Enhanced RTMP v2), shared by audio and video.
const (
	MultitrackOneTrack             uint8 = 0 // one track; no per-track size
	MultitrackManyTracks           uint8 = 1 // many tracks, one codec
	MultitrackManyTracksManyCodecs uint8 = 2 // many tracks, a FourCC per track
)

// ModEx types (Enhanced RTMP v2 VideoPacketModExType and
// AudioPacketModExType).
const (
	// ModExTimestampOffsetNano carries a UI24 nanosecond offset added to
	// the message timestamp.
	ModExTimestampOffsetNano uint8 = 0
)

// readExPacketType reads the packet type in the low nibble of an Enhanced
// header's first byte, b[0], and skips the ModEx packets that follow when it
// is modEx (AudioPacketModEx or VideoPacketModEx). It returns the real packet
// type, the last TimestampOffsetNano found and the index after what it read;
// ok is false when b is truncated. len(b) >= 1.
func readExPacketType(b []byte, modEx uint8) (packetType uint8, nano uint32, next int, ok bool) {
	packetType = b[0] & 0x0f
	if packetType != modEx {
		return packetType, 0, 1, true
	}
	next, packetType, nano, ok = skipModEx(b, 1, modEx)
	return packetType, nano, next, ok
}

// skipModEx consumes ModEx packets starting at b[i] (just after the
// nibble that said ModEx) until the packet type is no longer modEx. It
// returns the index after them, the real packet type and the last
// TimestampOffsetNano found; ok is false when b is truncated.
func skipModEx(b []byte, i int, modEx uint8) (next int, packetType uint8, nano uint32, ok bool) {
	packetType = modEx
	for packetType == modEx {
		if len(b) < i+1 {
			return i, packetType, nano, false
		}
		size := int(b[i]) + 1
		i++
		if size == 256 {
			if len(b) < i+2 {
				return i, packetType, nano, false
			}
			size = (int(b[i])<<8 | int(b[i+1])) + 1
			i += 2
		}
		if len(b) < i+size+1 {
			return i, packetType, nano, false
		}
		data := b[i : i+size]
		i += size
		modExType := b[i] >> 4
		packetType = b[i] & 0x0f
		i++
		if modExType == ModExTimestampOffsetNano && size >= 3 {
			nano = uint32(data[0])<<16 | uint32(data[1])<<8 | uint32(data[2])
		}
	}
	return i, packetType, nano, true
}

// exTrack is the codec part of an Enhanced header, read by readExTrack.
// AudioHeader and VideoHeader carry the same fields under the exported names
// PacketType, FourCC, Multitrack, MultitrackType, TrackID and TrackSize.
type exTrack struct {
	packetType     uint8
	fourCC         FourCC
	multitrack     bool
	multitrackType uint8
	trackID        uint8
	trackSize      uint32
}

// readExTrack reads the codec part of an Enhanced header at b[i], after the
// packet type and any ModEx packets. When packetType is multitrack
// (AudioPacketMultitrack or VideoPacketMultitrack) that is the multitrack
// prefix: the byte holding AvMultitrackType and the tracks' packet type, then
// the first track's FourCC, id and size (for an unknown multitrack type it
// stops after that byte). Otherwise it is the FourCC alone and packetType is
// kept. It returns the index after what it read; ok is false when b is
// truncated, and t then holds what was read before the cut.
func readExTrack(b []byte, i int, packetType, multitrack uint8) (t exTrack, next int, ok bool) {
	t.packetType = packetType
	if packetType != multitrack {
		if len(b) < i+4 {
			return t, i, false
		}
		t.fourCC = readFourCC(b[i:])
		return t, i + 4, true
	}
	t.multitrack = true
	if len(b) < i+1 {
		return t, i, false
	}
	t.multitrackType = b[i] >> 4
	t.packetType = b[i] & 0x0f
	i++
	if t.multitrackType > MultitrackManyTracksManyCodecs {
		return t, i, true
	}
	// The shared FourCC (one codec) or the first track's FourCC (many
	// codecs) sits at the same place.
	if len(b) < i+4+1 {
		return t, i, false
	}
	t.fourCC = readFourCC(b[i:])
	i += 4
	t.trackID = b[i]
	i++
	if t.multitrackType != MultitrackOneTrack {
		if len(b) < i+3 {
			return t, i, false
		}
		t.trackSize = uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
		i += 3
	}
	return t, i, true
}
