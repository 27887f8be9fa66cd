package flvmux

// Video frame types (FLV v10.1 E.4.3.1 FrameType; Enhanced RTMP
// VideoFrameType).
const (
	FrameKey          uint8 = 1 // keyframe: a seekable frame
	FrameInter        uint8 = 2 // inter frame: not seekable
	FrameDisposable   uint8 = 3 // disposable inter frame (H.263 only)
	FrameGeneratedKey uint8 = 4 // generated keyframe (server use only)
	FrameCommand      uint8 = 5 // video info / command frame: no video data
)

// Legacy video codec ids (FLV v10.1 E.4.3.1 CodecID).
const (
	CodecSorensonH263 uint8 = 2
	CodecScreen       uint8 = 3
	CodecVP6          uint8 = 4
	CodecVP6Alpha     uint8 = 5
	CodecScreenV2     uint8 = 6
	CodecAVC          uint8 = 7
	// CodecHEVC is not in any Adobe specification: it is the id that
	// several Chinese CDNs and servers use for H.265 in legacy FLV, with
	// the same packet layout as AVC.
	CodecHEVC uint8 = 12
)

// AVCPacketType values of legacy AVC (and id 12 HEVC) video tags.
const (
	AVCSequenceHeader uint8 = 0 // AVCDecoderConfigurationRecord
	AVCNALU           uint8 = 1 // one or more NALUs
	AVCEndOfSequence  uint8 = 2 // end of sequence; no data
)

// VideoPacketType values of the Enhanced RTMP ExVideoTagHeader. The first
// three share their values and meaning with the AVCPacketType values.
const (
	VideoPacketSequenceStart        uint8 = 0 // decoder configuration record
	VideoPacketCodedFrames          uint8 = 1 // frames; avc1 and hvc1 carry a composition time
	VideoPacketSequenceEnd          uint8 = 2 // end of sequence
	VideoPacketCodedFramesX         uint8 = 3 // frames with an implied composition time of 0
	VideoPacketMetadata             uint8 = 4 // AMF-encoded metadata such as colorInfo
	VideoPacketMPEG2TSSequenceStart uint8 = 5 // MPEG-2 TS descriptor (av01)
	VideoPacketMultitrack           uint8 = 6 // multitrack mode (v2)
	VideoPacketModEx                uint8 = 7 // packet modifier/extension (v2)
)

// Video command values carried by command frames (FrameCommand).
const (
	VideoCommandStartSeek uint8 = 0
	VideoCommandEndSeek   uint8 = 1
)

// VideoHeader is a parsed legacy VideoTagHeader (FLV v10.1 E.4.3.1) or
// Enhanced RTMP ExVideoTagHeader. It holds no references to the payload.
type VideoHeader struct {
	// FrameType is one of FrameKey ... FrameCommand (0, 6 and 7 are
	// reserved and reported as found).
	FrameType uint8
	// CodecID is the legacy codec id (CodecAVC, CodecHEVC, ...); 0 when
	// Enhanced.
	CodecID uint8
	// Enhanced is the IsExHeader bit (0x80 of the first byte).
	Enhanced bool
	// PacketType is, for legacy AVC/HEVC, the AVCPacketType; for Enhanced
	// tags the VideoPacketType after ModEx packets and the multitrack
	// prefix have been consumed. For other legacy codecs it is set to
	// VideoPacketCodedFrames, so callers have one notion of packet type.
	PacketType uint8
	// FourCC is the codec: read from the Enhanced header, or derived from
	// the legacy codec id (FourCCAVC1 for AVC, FourCCHVC1 for id 12);
	// 0 for other legacy codecs and for Enhanced command frames.
	FourCC FourCC
	// CompositionTime is the signed composition time offset in
	// milliseconds of legacy AVC/HEVC tags and Enhanced avc1/hvc1
	// CodedFrames; 0 otherwise.
	CompositionTime int32
	// HeaderLen is the number of bytes before the codec payload (for a
	// multitrack tag, before the first track's payload).
	HeaderLen int
	// Command is the video command of a command frame (FrameCommand).
	Command uint8
	// TimestampOffsetNano is the nanosecond timestamp offset of a ModEx
	// TimestampOffsetNano packet, 0 when absent.
	TimestampOffsetNano uint32
	// Multitrack is set for an Enhanced RTMP v2 multitrack tag. The fields
	// FourCC, PacketType, TrackID and TrackSize describe the first track;
	// the caller walks the remaining tracks.
	Multitrack bool
	// MultitrackType is one of MultitrackOneTrack ... ManyTracksManyCodecs.
	MultitrackType uint8
	// TrackID is the first track's id.
	TrackID uint8
	// TrackSize is the size of the first track's data counted from
	// HeaderLen minus any composition time bytes (i.e. from just after the
	// UI24 size field); 0 for MultitrackOneTrack.
	TrackSize uint32
}

// ReadVideoHeader parses the video tag header at the start of payload, the
// data of an FLV video tag or of an RTMP video message. Unknown frame
// types, codecs, FourCCs, packet types and multitrack types are reported in
// the result (Known returns false), not as errors; only a payload too short
// for the header it announces fails, with ErrShortVideoHeader. It does not
// allocate.
//
// ModEx packets are skipped (recording a TimestampOffsetNano); for a
// multitrack tag, the first track's header is parsed and the rest is left
// to the caller. Legacy command frames follow FLV v10.1: AVC/HEVC tags keep
// their AVCPacketType and CompositionTime before the command byte.
func ReadVideoHeader(payload []byte) (VideoHeader, error) {
	var h VideoHeader
	if len(payload) == 0 {
		return h, ErrShortVideoHeader
	}
	b0 := payload[0]
	h.FrameType = b0 >> 4 & 7
	if b0&0x80 == 0 {
		return readLegacyVideo(payload, h)
	}
	h.Enhanced = true
	var i int
	var ok bool
	if h.PacketType, h.TimestampOffsetNano, i, ok = readExPacketType(payload, VideoPacketModEx); !ok {
		return h, ErrShortVideoHeader
	}
	if h.FrameType == FrameCommand && h.PacketType != VideoPacketMetadata {
		if len(payload) < i+1 {
			return h, ErrShortVideoHeader
		}
		h.Command = payload[i]
		h.HeaderLen = i + 1
		return h, nil
	}
	t, i, ok := readExTrack(payload, i, h.PacketType, VideoPacketMultitrack)
	h.PacketType, h.FourCC, h.Multitrack = t.packetType, t.fourCC, t.multitrack
	h.MultitrackType, h.TrackID, h.TrackSize = t.multitrackType, t.trackID, t.trackSize
	if !ok {
		return h, ErrShortVideoHeader
	}
	if h.Multitrack && h.MultitrackType > MultitrackManyTracksManyCodecs {
		h.HeaderLen = i
		return h, nil
	}
	if h.PacketType == VideoPacketCodedFrames && (h.FourCC == FourCCAVC1 || h.FourCC == FourCCHVC1) {
		if len(payload) < i+3 {
			return h, ErrShortVideoHeader
		}
		h.CompositionTime = readSI24(payload[i:])
		i += 3
	}
	h.HeaderLen = i
	return h, nil
}

// readLegacyVideo finishes ReadVideoHeader for a legacy VideoTagHeader.
func readLegacyVideo(payload []byte, h VideoHeader) (VideoHeader, error) {
	h.CodecID = payload[0] & 0x0f
	h.PacketType = VideoPacketCodedFrames
	i := 1
	if h.CodecID == CodecAVC || h.CodecID == CodecHEVC {
		if len(payload) < 5 {
			return h, ErrShortVideoHeader
		}
		h.FourCC = FourCCAVC1
		if h.CodecID == CodecHEVC {
			h.FourCC = FourCCHVC1
		}
		h.PacketType = payload[1]
		h.CompositionTime = readSI24(payload[2:])
		i = 5
	}
	if h.FrameType == FrameCommand {
		if len(payload) < i+1 {
			return h, ErrShortVideoHeader
		}
		h.Command = payload[i]
		i++
	}
	h.HeaderLen = i
	return h, nil
}

// readSI24 decodes a big-endian signed 24-bit integer at b[0:3].
func readSI24(b []byte) int32 {
	_ = b[2]
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

// IsCommand reports whether the tag is a command frame, which carries a
// Command byte and no video data.
func (h VideoHeader) IsCommand() bool {
	return h.FrameType == FrameCommand && !(h.Enhanced && h.PacketType == VideoPacketMetadata)
}

// IsKeyframe reports whether the tag is a keyframe (FrameType 1). It is
// false for command frames and Enhanced Metadata packets (whose frame type
// is to be ignored), and true for sequence headers sent with the keyframe
// flag; check IsSequenceHeader first when the difference matters.
func (h VideoHeader) IsKeyframe() bool {
	return h.FrameType == FrameKey && !(h.Enhanced && h.PacketType == VideoPacketMetadata)
}

// IsSequenceHeader reports whether the tag carries a decoder configuration:
// a legacy AVC/HEVC sequence header or an Enhanced SequenceStart or
// MPEG2TSSequenceStart.
func (h VideoHeader) IsSequenceHeader() bool {
	if h.IsCommand() {
		return false
	}
	if h.Enhanced {
		return h.PacketType == VideoPacketSequenceStart || h.PacketType == VideoPacketMPEG2TSSequenceStart
	}
	return (h.CodecID == CodecAVC || h.CodecID == CodecHEVC) && h.PacketType == AVCSequenceHeader
}

// Known reports whether every value in the header is one this package
// knows: a defined frame type, codec id or FourCC, packet type and
// multitrack type. Callers should drop or pass through, not decode, tags
// for which it is false.
func (h VideoHeader) Known() bool {
	if h.FrameType < FrameKey || h.FrameType > FrameCommand {
		return false
	}
	if !h.Enhanced {
		switch h.CodecID {
		case CodecAVC, CodecHEVC:
			return h.PacketType <= AVCEndOfSequence
		case CodecSorensonH263, CodecScreen, CodecVP6, CodecVP6Alpha, CodecScreenV2:
			return true
		}
		return false
	}
	if h.IsCommand() {
		return h.Command <= VideoCommandEndSeek
	}
	if h.Multitrack && h.MultitrackType > MultitrackManyTracksManyCodecs {
		return false
	}
	return h.PacketType <= VideoPacketMPEG2TSSequenceStart && h.FourCC.IsVideo()
}

// IsVideoKeyframe reports whether a video payload is a keyframe, like
// ReadVideoHeader(payload).IsKeyframe() with a nil error, but cheaper for
// the common legacy layouts. It does not allocate.
func IsVideoKeyframe(payload []byte) bool {
	if len(payload) == 0 || payload[0]>>4&7 != FrameKey {
		return false
	}
	if payload[0]&0x80 == 0 {
		codec := payload[0] & 0x0f
		return (codec != CodecAVC && codec != CodecHEVC) || len(payload) >= 5
	}
	h, err := ReadVideoHeader(payload)
	return err == nil && h.IsKeyframe()
}

// IsVideoSequenceHeader reports whether a video payload carries a decoder
// configuration, like ReadVideoHeader(payload).IsSequenceHeader() with a
// nil error, but cheaper for the common legacy layouts. It does not
// allocate.
func IsVideoSequenceHeader(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	b0 := payload[0]
	if b0&0x80 == 0 {
		codec := b0 & 0x0f
		if codec != CodecAVC && codec != CodecHEVC || len(payload) < 5 || payload[1] != AVCSequenceHeader {
			return false
		}
		if b0>>4&7 == FrameCommand {
			return false // a command frame has no configuration
		}
		return true
	}
	h, err := ReadVideoHeader(payload)
	return err == nil && h.IsSequenceHeader()
}
