package flvmux

// SoundFormat values (FLV v10.1 E.4.2.1; Enhanced RTMP SoundFormat).
const (
	SoundFormatLPCMPlatform     uint8 = 0
	SoundFormatADPCM            uint8 = 1
	SoundFormatMP3              uint8 = 2
	SoundFormatLPCMLittleEndian uint8 = 3
	SoundFormatNellymoser16kHz  uint8 = 4
	SoundFormatNellymoser8kHz   uint8 = 5
	SoundFormatNellymoser       uint8 = 6
	SoundFormatG711ALaw         uint8 = 7
	SoundFormatG711MuLaw        uint8 = 8
	SoundFormatExHeader         uint8 = 9 // Enhanced RTMP: FourCC audio follows
	SoundFormatAAC              uint8 = 10
	SoundFormatSpeex            uint8 = 11
	SoundFormatMP38kHz          uint8 = 14
	SoundFormatNative           uint8 = 15 // device-specific sound
)

// AACPacketType values of legacy AAC audio tags.
const (
	AACSequenceHeader uint8 = 0 // AudioSpecificConfig
	AACRaw            uint8 = 1 // raw AAC frame data
)

// AudioPacketType values of the Enhanced RTMP ExAudioTagHeader. The first
// two share their values and meaning with the AACPacketType values.
const (
	AudioPacketSequenceStart      uint8 = 0 // codec configuration
	AudioPacketCodedFrames        uint8 = 1 // coded audio frames
	AudioPacketSequenceEnd        uint8 = 2 // end of sequence
	AudioPacketMultichannelConfig uint8 = 4 // channel order and mapping
	AudioPacketMultitrack         uint8 = 5 // multitrack mode (v2)
	AudioPacketModEx              uint8 = 7 // packet modifier/extension (v2)
)

// AudioHeader is a parsed legacy AudioTagHeader (FLV v10.1 E.4.2.1) or
// Enhanced RTMP ExAudioTagHeader. It holds no references to the payload.
type AudioHeader struct {
	// SoundFormat is the codec id (SoundFormatAAC, SoundFormatMP3, ...);
	// SoundFormatExHeader for Enhanced tags.
	SoundFormat uint8
	// SoundRate (0: 5.5 kHz, 1: 11 kHz, 2: 22 kHz, 3: 44 kHz), SoundSize
	// (0: 8 bit, 1: 16 bit) and SoundType (0: mono, 1: stereo) are the
	// legacy header bits; 0 when Enhanced.
	SoundRate, SoundSize, SoundType uint8
	// Enhanced is set when SoundFormat is SoundFormatExHeader.
	Enhanced bool
	// PacketType is the AACPacketType of legacy AAC tags, or the Enhanced
	// AudioPacketType after ModEx packets and the multitrack prefix have
	// been consumed. For other legacy formats it is set to
	// AudioPacketCodedFrames, so callers have one notion of packet type.
	PacketType uint8
	// FourCC is the codec: read from the Enhanced header, or derived from
	// the legacy format (FourCCMP4A for AAC, FourCCMP3 for MP3); 0 for
	// other legacy formats.
	FourCC FourCC
	// HeaderLen is the number of bytes before the codec payload (for a
	// multitrack tag, before the first track's payload).
	HeaderLen int
	// TimestampOffsetNano is the nanosecond timestamp offset of a ModEx
	// TimestampOffsetNano packet, 0 when absent.
	TimestampOffsetNano uint32
	// Multitrack is set for an Enhanced RTMP v2 multitrack tag. FourCC,
	// PacketType, TrackID and TrackSize describe the first track; the
	// caller walks the remaining tracks.
	Multitrack bool
	// MultitrackType is one of MultitrackOneTrack ... ManyTracksManyCodecs.
	MultitrackType uint8
	// TrackID is the first track's id.
	TrackID uint8
	// TrackSize is the size of the first track's data, counted from
	// HeaderLen; 0 for MultitrackOneTrack.
	TrackSize uint32
}

// ReadAudioHeader parses the audio tag header at the start of payload, the
// data of an FLV audio tag or of an RTMP audio message. Unknown formats,
// FourCCs, packet types and multitrack types are reported in the result
// (Known returns false), not as errors; only a payload too short for the
// header it announces fails, with ErrShortAudioHeader. An empty payload is
// RTMP's "silence" message and also returns ErrShortAudioHeader; check
// len(payload) == 0 first if silence matters. It does not allocate.
func ReadAudioHeader(payload []byte) (AudioHeader, error) {
	var h AudioHeader
	if len(payload) == 0 {
		return h, ErrShortAudioHeader
	}
	b0 := payload[0]
	h.SoundFormat = b0 >> 4
	if h.SoundFormat != SoundFormatExHeader {
		h.SoundRate = b0 >> 2 & 3
		h.SoundSize = b0 >> 1 & 1
		h.SoundType = b0 & 1
		h.PacketType = AudioPacketCodedFrames
		h.HeaderLen = 1
		switch h.SoundFormat {
		case SoundFormatAAC:
			if len(payload) < 2 {
				return h, ErrShortAudioHeader
			}
			h.FourCC = FourCCMP4A
			h.PacketType = payload[1]
			h.HeaderLen = 2
		case SoundFormatMP3, SoundFormatMP38kHz:
			h.FourCC = FourCCMP3
		}
		return h, nil
	}
	h.Enhanced = true
	var i int
	var ok bool
	if h.PacketType, h.TimestampOffsetNano, i, ok = readExPacketType(payload, AudioPacketModEx); !ok {
		return h, ErrShortAudioHeader
	}
	t, i, ok := readExTrack(payload, i, h.PacketType, AudioPacketMultitrack)
	h.PacketType, h.FourCC, h.Multitrack = t.packetType, t.fourCC, t.multitrack
	h.MultitrackType, h.TrackID, h.TrackSize = t.multitrackType, t.trackID, t.trackSize
	if !ok {
		return h, ErrShortAudioHeader
	}
	h.HeaderLen = i
	return h, nil
}

// IsSequenceHeader reports whether the tag carries the codec configuration:
// a legacy AAC sequence header or an Enhanced SequenceStart.
func (h AudioHeader) IsSequenceHeader() bool {
	if h.Enhanced {
		return h.PacketType == AudioPacketSequenceStart
	}
	return h.SoundFormat == SoundFormatAAC && h.PacketType == AACSequenceHeader
}

// Known reports whether every value in the header is one this package
// knows: a defined sound format or FourCC, packet type and multitrack type.
func (h AudioHeader) Known() bool {
	if !h.Enhanced {
		switch h.SoundFormat {
		case 12, 13:
			return false
		case SoundFormatAAC:
			return h.PacketType <= AACRaw
		}
		return true
	}
	if h.Multitrack && h.MultitrackType > MultitrackManyTracksManyCodecs {
		return false
	}
	switch h.PacketType {
	case AudioPacketSequenceStart, AudioPacketCodedFrames, AudioPacketSequenceEnd, AudioPacketMultichannelConfig:
		return h.FourCC.IsAudio()
	}
	return false
}

// IsAudioSequenceHeader reports whether an audio payload carries the codec
// configuration, like ReadAudioHeader(payload).IsSequenceHeader() with a
// nil error, but cheaper for legacy tags. It does not allocate.
func IsAudioSequenceHeader(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	switch payload[0] >> 4 {
	case SoundFormatAAC:
		return len(payload) >= 2 && payload[1] == AACSequenceHeader
	case SoundFormatExHeader:
		h, err := ReadAudioHeader(payload)
		return err == nil && h.IsSequenceHeader()
	}
	return false
}
