package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// Generated stream parameters.
const (
	// genWidth and genHeight are the picture size announced in the SPS and
	// onMetaData of the generated stream (720p).
	genWidth, genHeight = 1280, 720
	// keyframeFactor is how many times larger than an inter frame a keyframe is.
	keyframeFactor = 4
	// aacSampleRate and aacFrameSamples give the audio frame duration
	// (1024 samples at 48 kHz, about 21.3 ms).
	aacSampleRate, aacFrameSamples = 48000, 1024
	// maxInputSize caps the FLV file read by -input (it is held in memory).
	maxInputSize = 1 << 30
	// maxInputTags caps the number of tags read from an -input file.
	maxInputTags = 10_000_000
	// videoHeaderLen is the legacy AVC video tag header: frame type and codec,
	// AVCPacketType, 3-byte composition time.
	videoHeaderLen = 5
)

// message is one media message of the published stream. Its payload is the
// FLV tag body, split so that a latency stamp can be put between Prefix (the
// video tag header) and Body (the NAL units) when Stamp is set. The slices
// belong to the source and are valid until the next call to next.
type message struct {
	TypeID uint8
	// Timestamp is the RTMP timestamp in milliseconds.
	Timestamp uint32
	// Due is when the message is to be sent, from the start of publishing.
	Due time.Duration
	// Prefix and Body make up the payload.
	Prefix, Body []byte
	// Stamp asks for a latency stamp between Prefix and Body.
	Stamp bool
	// Frame says this is a video frame (not a sequence header) that counts
	// as published.
	Frame bool
}

// source produces the messages a publisher sends.
type source interface {
	// metadata returns the onMetaData body to send first, or nil.
	metadata() []byte
	// headers returns the sequence header messages to send before media.
	headers() []message
	// next returns the next media message, in send order. It never ends.
	next() message
}

// genSource is the generated stream: H.264-like video at a fixed frame rate
// and bitrate with a keyframe every gop frames, and AAC-like audio. The video
// frames are an IDR or non-IDR slice NAL unit of filler bytes; they are not
// decodable, but their headers, sequence headers and NAL framing look real.
type genSource struct {
	fps        float64
	gop        int
	md         []byte
	hdrs       []message
	keyBody    []byte // 4-byte length + IDR slice NAL
	interBody  []byte // 4-byte length + non-IDR slice NAL
	keyHdr     [videoHeaderLen]byte
	interHdr   [videoHeaderLen]byte
	audioHdr   [2]byte
	audioBody  []byte
	hasAudio   bool
	videoN     int64 // next video frame index
	audioN     int64 // next audio frame index
	frameDur   float64
	audioDurNs float64
}

// newGenSource builds the generated stream for a video bitrate (bits/s),
// audio bitrate (bits/s, 0 for no audio), frame rate and GOP length.
func newGenSource(videoBitrate, audioBitrate int64, fps float64, gop int) *genSource {
	g := &genSource{fps: fps, gop: gop, hasAudio: audioBitrate > 0}
	g.frameDur = float64(time.Second) / fps
	g.audioDurNs = float64(time.Second) * aacFrameSamples / aacSampleRate

	// Bytes per GOP split so that a keyframe is keyframeFactor inter frames.
	perGOP := float64(videoBitrate) / 8 * float64(gop) / fps
	inter, key := perGOP, perGOP
	if gop > 1 {
		inter = perGOP / float64(gop-1+keyframeFactor)
		key = inter * keyframeFactor
	}
	g.keyBody = sliceNAL(int(key)-videoHeaderLen, 0x65)     // nal_ref_idc 3, IDR slice
	g.interBody = sliceNAL(int(inter)-videoHeaderLen, 0x41) // nal_ref_idc 2, non-IDR slice
	g.keyHdr = [videoHeaderLen]byte{flvmux.FrameKey<<4 | flvmux.CodecAVC, flvmux.AVCNALU}
	g.interHdr = [videoHeaderLen]byte{flvmux.FrameInter<<4 | flvmux.CodecAVC, flvmux.AVCNALU}
	g.audioHdr = [2]byte{aacTagByte, flvmux.AACRaw}
	if g.hasAudio {
		n := int(float64(audioBitrate)/8*aacFrameSamples/aacSampleRate) - 2
		g.audioBody = filler(max(n, 8), 7)
	}

	sps, pps := makeSPS(genWidth, genHeight), makePPS()
	avcc := []byte{flvmux.FrameKey<<4 | flvmux.CodecAVC, flvmux.AVCSequenceHeader, 0, 0, 0}
	avcc = appendAVCConfig(avcc, sps, pps)
	g.hdrs = append(g.hdrs, message{TypeID: chunkcodec.TypeVideo, Body: avcc})
	if g.hasAudio {
		g.hdrs = append(g.hdrs, message{TypeID: chunkcodec.TypeAudio, Body: []byte{aacTagByte, flvmux.AACSequenceHeader, 0x11, 0x90}})
	}
	md := &flvmux.Metadata{
		Width: genWidth, Height: genHeight, FrameRate: fps,
		VideoDataRate: float64(videoBitrate) / 1000, VideoCodecID: float64(flvmux.CodecAVC),
		HasVideo: true, Encoder: "quaver rtmpbench",
	}
	if g.hasAudio {
		md.HasAudio, md.Stereo = true, true
		md.AudioDataRate = float64(audioBitrate) / 1000
		md.AudioSampleRate, md.AudioSampleSize = aacSampleRate, 16
		md.AudioCodecID = float64(flvmux.SoundFormatAAC)
	}
	g.md = flvmux.AppendOnMetaData(nil, md)
	return g
}

// aacTagByte is the audio tag header byte of AAC: SoundFormat 10, rate 3,
// 16-bit, stereo.
const aacTagByte = flvmux.SoundFormatAAC<<4 | 3<<2 | 1<<1 | 1

func (g *genSource) metadata() []byte   { return g.md }
func (g *genSource) headers() []message { return g.hdrs }

func (g *genSource) next() message {
	vDue := time.Duration(float64(g.videoN) * g.frameDur)
	if g.hasAudio {
		aDue := time.Duration(float64(g.audioN) * g.audioDurNs)
		if aDue < vDue {
			g.audioN++
			return message{TypeID: chunkcodec.TypeAudio, Timestamp: uint32(aDue / time.Millisecond), Due: aDue,
				Prefix: g.audioHdr[:], Body: g.audioBody}
		}
	}
	m := message{TypeID: chunkcodec.TypeVideo, Timestamp: uint32(vDue / time.Millisecond), Due: vDue, Stamp: true, Frame: true}
	if g.videoN%int64(g.gop) == 0 {
		m.Prefix, m.Body = g.keyHdr[:], g.keyBody
	} else {
		m.Prefix, m.Body = g.interHdr[:], g.interBody
	}
	g.videoN++
	return m
}

// sliceNAL returns a 4-byte length prefix and a slice NAL unit of about size
// bytes in all: the NAL header byte and filler.
func sliceNAL(size int, header byte) []byte {
	size = max(size, 16)
	b := make([]byte, 4, size)
	binary.BigEndian.PutUint32(b, uint32(size-4))
	b = append(b, header)
	return append(b, filler(size-5, uint32(header))...)
}

// filler returns n pseudo-random bytes with no zero byte, so no start code
// or emulation pattern appears in them.
func filler(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed*2654435761 + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x>>24) | 1
	}
	return b
}

// bitWriter writes the bits of an H.264 RBSP, most significant first.
type bitWriter struct {
	b    []byte
	nbit int
}

func (w *bitWriter) bit(v uint) {
	if w.nbit%8 == 0 {
		w.b = append(w.b, 0)
	}
	if v != 0 {
		w.b[len(w.b)-1] |= 0x80 >> (w.nbit % 8)
	}
	w.nbit++
}

func (w *bitWriter) bits(v uint, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(v >> i & 1)
	}
}

// ue writes an unsigned Exp-Golomb code (H.264 9.1).
func (w *bitWriter) ue(v uint) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

// se writes a signed Exp-Golomb code (H.264 9.1.1).
func (w *bitWriter) se(v int) {
	if v > 0 {
		w.ue(uint(2*v - 1))
	} else {
		w.ue(uint(-2 * v))
	}
}

// trailing writes rbsp_trailing_bits.
func (w *bitWriter) trailing() {
	w.bit(1)
	for w.nbit%8 != 0 {
		w.bit(0)
	}
}

// makeSPS returns a High profile, level 3.1 sequence parameter set NAL unit
// (H.264 7.3.2.1.1) for a width x height progressive picture, both multiples
// of 16.
func makeSPS(width, height int) []byte {
	w := &bitWriter{}
	w.bits(100, 8) // profile_idc: High
	w.bits(0, 8)   // constraint flags
	w.bits(31, 8)  // level_idc 3.1
	w.ue(0)        // seq_parameter_set_id
	w.ue(1)        // chroma_format_idc 4:2:0
	w.ue(0)        // bit_depth_luma_minus8
	w.ue(0)        // bit_depth_chroma_minus8
	w.bit(0)       // qpprime_y_zero_transform_bypass_flag
	w.bit(0)       // seq_scaling_matrix_present_flag
	w.ue(0)        // log2_max_frame_num_minus4
	w.ue(2)        // pic_order_cnt_type
	w.ue(1)        // max_num_ref_frames
	w.bit(0)       // gaps_in_frame_num_value_allowed_flag
	w.ue(uint(width/16 - 1))
	w.ue(uint(height/16 - 1))
	w.bit(1) // frame_mbs_only_flag
	w.bit(1) // direct_8x8_inference_flag
	w.bit(0) // frame_cropping_flag
	w.bit(0) // vui_parameters_present_flag
	w.trailing()
	return appendEscaped([]byte{0x67}, w.b) // nal_ref_idc 3, type 7
}

// makePPS returns a picture parameter set NAL unit (H.264 7.3.2.2) for the
// SPS of makeSPS: CABAC, one slice group, 8x8 transform.
func makePPS() []byte {
	w := &bitWriter{}
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bit(1)     // entropy_coding_mode_flag: CABAC
	w.bit(0)     // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bit(0)     // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.se(0)      // pic_init_qp_minus26
	w.se(0)      // pic_init_qs_minus26
	w.se(0)      // chroma_qp_index_offset
	w.bit(1)     // deblocking_filter_control_present_flag
	w.bit(0)     // constrained_intra_pred_flag
	w.bit(0)     // redundant_pic_cnt_present_flag
	w.bit(1)     // transform_8x8_mode_flag
	w.bit(0)     // pic_scaling_matrix_present_flag
	w.se(0)      // second_chroma_qp_index_offset
	w.trailing()
	return appendEscaped([]byte{0x68}, w.b) // nal_ref_idc 3, type 8
}

// appendAVCConfig appends an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1) with one SPS and one PPS and 4-byte NAL lengths.
func appendAVCConfig(dst, sps, pps []byte) []byte {
	dst = append(dst, 1, sps[1], sps[2], sps[3], 0xfc|3, 0xe0|1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(sps)))
	dst = append(dst, sps...)
	dst = append(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pps)))
	dst = append(dst, pps...)
	if p := sps[1]; p == 100 || p == 110 || p == 122 || p == 144 {
		// chroma_format 4:2:0, 8-bit luma and chroma, no SPS extensions.
		dst = append(dst, 0xfc|1, 0xf8, 0xf8, 0)
	}
	return dst
}

// fileSource replays the tags of an FLV file, looped with monotonic
// timestamps. Legacy AVC frames with 4-byte NAL lengths get a latency stamp.
type fileSource struct {
	md    []byte
	hdrs  []message
	tags  []fileTag
	i     int
	loop  int64 // completed passes over tags
	span  int64 // ms added per pass
	first int64 // timestamp of the first media tag
	stamp bool  // whether AVC frames can be stamped
}

// fileTag is one media tag of an -input file.
type fileTag struct {
	typ   uint8
	ts    int64
	data  []byte
	frame bool // video frame, not a sequence header
	avc   bool // legacy AVC NALU packet
}

// newFileSource reads an FLV file. Script tags other than the first
// onMetaData and sequence headers after the first of each kind are dropped
// from the loop.
func newFileSource(path string) (*fileSource, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxInputSize {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte limit for -input", path, st.Size(), maxInputSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &fileSource{first: -1}
	var r flvmux.Reader
	var haveVideoHdr, haveAudioHdr bool
	var lastTS, lastVideoTS, videoStep int64
	lastVideoTS = -1
	for p := data; len(p) > 0; {
		n, tag, err := r.Feed(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p = p[n:]
		if tag == nil {
			continue
		}
		if len(s.tags) >= maxInputTags {
			return nil, fmt.Errorf("%s: more than %d tags", path, maxInputTags)
		}
		ts := int64(tag.Timestamp)
		body := append([]byte(nil), tag.Data...)
		switch tag.Type {
		case flvmux.TagScript:
			if s.md == nil && len(body) > 0 {
				s.md = body
			}
			continue
		case flvmux.TagVideo:
			if flvmux.IsVideoSequenceHeader(body) {
				if !haveVideoHdr {
					haveVideoHdr = true
					s.hdrs = append(s.hdrs, message{TypeID: chunkcodec.TypeVideo, Body: body})
					// AVCDecoderConfigurationRecord: lengthSizeMinusOne == 3.
					s.stamp = len(body) > videoHeaderLen+4 && body[0]&0x0f == flvmux.CodecAVC && body[videoHeaderLen+4]&3 == 3
				}
				continue
			}
			t := fileTag{typ: chunkcodec.TypeVideo, ts: ts, data: body, frame: true}
			t.avc = len(body) > videoHeaderLen && body[0]&0x80 == 0 && body[0]&0x0f == flvmux.CodecAVC && body[1] == flvmux.AVCNALU
			if lastVideoTS >= 0 && ts > lastVideoTS {
				videoStep = ts - lastVideoTS
			}
			lastVideoTS = ts
			s.tags = append(s.tags, t)
		case flvmux.TagAudio:
			if flvmux.IsAudioSequenceHeader(body) {
				if !haveAudioHdr {
					haveAudioHdr = true
					s.hdrs = append(s.hdrs, message{TypeID: chunkcodec.TypeAudio, Body: body})
				}
				continue
			}
			s.tags = append(s.tags, fileTag{typ: chunkcodec.TypeAudio, ts: ts, data: body})
		}
		if s.first < 0 {
			s.first = ts
		}
		lastTS = max(lastTS, ts)
	}
	if len(s.tags) == 0 {
		return nil, errors.New(path + ": no audio or video tags")
	}
	if videoStep <= 0 {
		videoStep = 33
	}
	s.span = lastTS - s.first + videoStep
	return s, nil
}

func (s *fileSource) metadata() []byte   { return s.md }
func (s *fileSource) headers() []message { return s.hdrs }

func (s *fileSource) next() message {
	t := &s.tags[s.i]
	ts := s.loop*s.span + max(t.ts-s.first, 0)
	m := message{TypeID: t.typ, Timestamp: uint32(ts), Due: time.Duration(ts) * time.Millisecond, Frame: t.frame}
	if t.avc && s.stamp {
		m.Prefix, m.Body, m.Stamp = t.data[:videoHeaderLen], t.data[videoHeaderLen:], true
	} else {
		m.Body = t.data
	}
	s.i++
	if s.i == len(s.tags) {
		s.i = 0
		s.loop++
	}
	return m
}
