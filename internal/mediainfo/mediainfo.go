// Package mediainfo describes a live stream for operators: its codecs,
// picture size and frame rate, read from the stream's sequence headers
// (FLV v10.1 E.4.2.1 and E.4.3.1, Enhanced RTMP v2) and its onMetaData
// (FLV v10.1 E.5). For H.264 the picture size and, when the encoder wrote
// VUI timing, the frame rate come from the sequence parameter set (ITU-T
// H.264 section 7.3.2.1.1 and Annex E.1.1); otherwise from onMetaData.
//
// Describe is pure: it takes bytes and returns values, keeps no references
// and starts nothing. It is not on the delivery path: the admin API calls it
// per request and the publish summary once per publish.
package mediainfo

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
)

// Sentinel errors.
var (
	ErrShortSPS = errors.New("mediainfo: sequence parameter set truncated")
	ErrBadSPS   = errors.New("mediainfo: sequence parameter set malformed")
)

// Info is what an operator sees of a stream's media. Zero fields are unknown.
type Info struct {
	VideoCodec string  `json:"video_codec,omitempty"` // "h264", "h265", "av1", "vp9", ... or the FourCC
	AudioCodec string  `json:"audio_codec,omitempty"` // "aac", "mp3", "opus", ...
	Width      int     `json:"width,omitempty"`       // pixels, after cropping
	Height     int     `json:"height,omitempty"`      // pixels, after cropping
	FrameRate  float64 `json:"frame_rate,omitempty"`  // frames per second
}

// Of describes a fanout stream from its current codec state (safe from any
// goroutine; see fanout.Stream.CodecState).
func Of(s *fanout.Stream) Info {
	var in Info
	s.CodecState(func(meta, video, audio []byte) { in = Describe(meta, video, audio) })
	return in
}

// Describe reads an onMetaData body and the video and audio sequence
// headers (each may be nil). The sequence headers win over onMetaData for
// the codecs and the picture size; onMetaData's frame rate wins over the
// SPS timing (which encoders often leave out or double).
func Describe(meta, video, audio []byte) Info {
	var in Info
	var md flvmux.Metadata
	haveMD := meta != nil && flvmux.ReadOnMetaData(meta, nil, &md) == nil
	if video != nil {
		if h, err := flvmux.ReadVideoHeader(video); err == nil {
			in.VideoCodec = codecName(h.FourCC)
			if in.VideoCodec == "" {
				in.VideoCodec = legacyVideo(h.CodecID)
			}
			if h.FourCC == flvmux.FourCCAVC1 && h.HeaderLen <= len(video) {
				if sps, err := ParseAVCConfig(video[h.HeaderLen:]); err == nil {
					in.Width, in.Height, in.FrameRate = sps.Width, sps.Height, sps.FrameRate
				}
			}
		}
	}
	if audio != nil {
		if h, err := flvmux.ReadAudioHeader(audio); err == nil {
			in.AudioCodec = codecName(h.FourCC)
			if in.AudioCodec == "" {
				in.AudioCodec = legacyAudio(h.SoundFormat)
			}
		}
	}
	if !haveMD {
		return in
	}
	if in.VideoCodec == "" {
		in.VideoCodec = codecName(md.VideoCodecFourCC())
	}
	if in.AudioCodec == "" {
		in.AudioCodec = codecName(md.AudioCodecFourCC())
	}
	if in.Width == 0 && in.Height == 0 && finite(md.Width) && finite(md.Height) {
		in.Width, in.Height = int(md.Width), int(md.Height)
	}
	if md.FrameRate > 0 && md.FrameRate < 1000 {
		in.FrameRate = md.FrameRate
	}
	return in
}

// finite reports whether f is a usable picture dimension.
func finite(f float64) bool { return f > 0 && f < 1<<16 && !math.IsNaN(f) }

// codecName names a FourCC the way operators say it; "" for 0.
func codecName(f flvmux.FourCC) string {
	switch f {
	case 0:
		return ""
	case flvmux.FourCCAVC1:
		return "h264"
	case flvmux.FourCCHVC1:
		return "h265"
	case flvmux.FourCCAV01:
		return "av1"
	case flvmux.FourCCVP09:
		return "vp9"
	case flvmux.FourCCVP08:
		return "vp8"
	case flvmux.FourCCMP4A:
		return "aac"
	case flvmux.FourCCMP3:
		return "mp3"
	case flvmux.FourCCOpus:
		return "opus"
	case flvmux.FourCCFLAC:
		return "flac"
	case flvmux.FourCCAC3:
		return "ac3"
	case flvmux.FourCCEAC3:
		return "eac3"
	}
	return f.String()
}

func legacyVideo(id uint8) string {
	switch id {
	case flvmux.CodecSorensonH263:
		return "h263"
	case flvmux.CodecScreen, flvmux.CodecScreenV2:
		return "screen"
	case flvmux.CodecVP6, flvmux.CodecVP6Alpha:
		return "vp6"
	}
	return ""
}

func legacyAudio(f uint8) string {
	switch f {
	case flvmux.SoundFormatLPCMPlatform, flvmux.SoundFormatLPCMLittleEndian:
		return "pcm"
	case flvmux.SoundFormatADPCM:
		return "adpcm"
	case flvmux.SoundFormatNellymoser, flvmux.SoundFormatNellymoser16kHz, flvmux.SoundFormatNellymoser8kHz:
		return "nellymoser"
	case flvmux.SoundFormatG711ALaw:
		return "pcma"
	case flvmux.SoundFormatG711MuLaw:
		return "pcmu"
	case flvmux.SoundFormatSpeex:
		return "speex"
	}
	return ""
}

// SPS is what ParseSPS reads of an H.264 sequence parameter set.
type SPS struct {
	Profile, Level uint8
	Width, Height  int     // after frame cropping
	FrameRate      float64 // from VUI timing; 0 when absent
}

// ParseAVCConfig reads the first SPS of an AVCDecoderConfigurationRecord
// (ISO/IEC 14496-15 section 5.3.3.1).
func ParseAVCConfig(rec []byte) (SPS, error) {
	if len(rec) < 8 {
		return SPS{}, ErrShortSPS
	}
	if rec[5]&0x1f == 0 {
		return SPS{}, ErrBadSPS
	}
	n := int(binary.BigEndian.Uint16(rec[6:]))
	if len(rec) < 8+n {
		return SPS{}, ErrShortSPS
	}
	return ParseSPS(rec[8 : 8+n])
}

// ParseSPS reads an H.264 SPS NAL unit (with its one-byte NAL header and
// emulation prevention bytes, as carried in the configuration record).
func ParseSPS(nal []byte) (SPS, error) {
	var sps SPS
	if len(nal) < 4 {
		return sps, ErrShortSPS
	}
	if nal[0]&0x1f != 7 {
		return sps, ErrBadSPS
	}
	r := bitReader{b: UnescapeRBSP(nal[1:])}
	sps.Profile = uint8(r.bits(8))
	r.bits(8) // constraint flags
	sps.Level = uint8(r.bits(8))
	r.ue() // seq_parameter_set_id
	chroma, separate := uint32(1), false
	switch sps.Profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			separate = r.bits(1) == 1
		}
		r.ue()              // bit_depth_luma_minus8
		r.ue()              // bit_depth_chroma_minus8
		r.bits(1)           // qpprime_y_zero_transform_bypass_flag
		if r.bits(1) == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bits(1) == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					last, next := int32(8), int32(8)
					for range size {
						if next != 0 {
							next = (last + r.se() + 256) % 256
						}
						if next != 0 {
							last = next
						}
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bits(1) // delta_pic_order_always_zero_flag
		r.se()    // offset_for_non_ref_pic
		r.se()    // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return sps, ErrBadSPS
		}
		for range n {
			r.se()
		}
	}
	r.ue()    // max_num_ref_frames
	r.bits(1) // gaps_in_frame_num_value_allowed_flag
	wMbs, hMaps := r.ue()+1, r.ue()+1
	frameMbsOnly := r.bits(1)
	if frameMbsOnly == 0 {
		r.bits(1) // mb_adaptive_frame_field_flag
	}
	r.bits(1) // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.bits(1) == 1 { // frame_cropping_flag
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err || wMbs > 1024 || hMaps > 1024 || chroma > 3 {
		return sps, ErrBadSPS
	}
	w, h := int(wMbs)*16, int(2-frameMbsOnly)*int(hMaps)*16
	unitX, unitY := 1, int(2-frameMbsOnly)
	if !separate && chroma != 0 {
		subW, subH := 2, 2
		if chroma == 2 {
			subH = 1
		} else if chroma == 3 {
			subW, subH = 1, 1
		}
		unitX, unitY = subW, subH*int(2-frameMbsOnly)
	}
	w -= unitX * int(cl+cr)
	h -= unitY * int(ct+cb)
	if w <= 0 || h <= 0 {
		return sps, ErrBadSPS
	}
	sps.Width, sps.Height = w, h
	if r.bits(1) == 1 { // vui_parameters_present_flag
		sps.FrameRate = r.vuiFrameRate()
	}
	return sps, nil
}

// vuiFrameRate reads the VUI up to its timing info (H.264 E.1.1).
func (r *bitReader) vuiFrameRate() float64 {
	if r.bits(1) == 1 { // aspect_ratio_info_present_flag
		if r.bits(8) == 255 { // Extended_SAR
			r.bits(16)
			r.bits(16)
		}
	}
	if r.bits(1) == 1 { // overscan_info_present_flag
		r.bits(1)
	}
	if r.bits(1) == 1 { // video_signal_type_present_flag
		r.bits(4)
		if r.bits(1) == 1 { // colour_description_present_flag
			r.bits(24)
		}
	}
	if r.bits(1) == 1 { // chroma_loc_info_present_flag
		r.ue()
		r.ue()
	}
	if r.bits(1) == 0 { // timing_info_present_flag
		return 0
	}
	units, scale := r.bits(32), r.bits(32)
	if r.err || units == 0 || scale == 0 {
		return 0
	}
	fps := float64(scale) / float64(2*uint64(units))
	if fps > 1000 {
		return 0
	}
	return math.Round(fps*1000) / 1000
}

// UnescapeRBSP returns the RBSP of an escaped NAL payload: emulation
// prevention bytes (00 00 03 -> 00 00) removed, in a new slice.
func UnescapeRBSP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// bitReader reads big-endian bits and Exp-Golomb codes (H.264 9.1); past
// the end it reads zeros and sets err.
type bitReader struct {
	b   []byte
	pos int // bit position
	err bool
}

func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for range n {
		i := r.pos >> 3
		if i >= len(r.b) {
			r.err = true
			return 0
		}
		v = v<<1 | uint32(r.b[i]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bits(1) == 0 {
		if r.err || zeros == 31 {
			r.err = true
			return 0
		}
		zeros++
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32(v/2 + 1)
	}
	return -int32(v / 2)
}
