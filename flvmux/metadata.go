package flvmux

import (
	"fmt"
	"math"

	"github.com/quaverlive/quaver/amf0"
)

// Script data names.
const (
	// OnMetaData is the name of the metadata script data object (E.5).
	OnMetaData = "onMetaData"
	// SetDataFrame is the RTMP data message name a publisher puts before
	// "onMetaData" to ask the server to store the metadata for the stream.
	SetDataFrame = "@setDataFrame"
)

// setDataFramePrefix is the AMF0 encoding of the string "@setDataFrame".
const setDataFramePrefix = "\x02\x00\x0d" + SetDataFrame

// Metadata is the onMetaData object (FLV v10.1 E.5) with the properties
// servers and recorders use. A zero numeric field means "not present".
// VideoCodecID and AudioCodecID hold a legacy codec id (7 for AVC, 10 for
// AAC) or, for Enhanced RTMP codecs, the FourCC as a number (for example
// float64(FourCCHVC1)).
type Metadata struct {
	Duration        float64 // seconds
	Width, Height   float64 // pixels
	VideoDataRate   float64 // kbit/s
	FrameRate       float64 // frames per second
	VideoCodecID    float64 // legacy CodecID or FourCC number
	AudioDataRate   float64 // kbit/s
	AudioSampleRate float64 // Hz
	AudioSampleSize float64 // bits per sample
	AudioCodecID    float64 // legacy SoundFormat or FourCC number
	FileSize        float64 // bytes
	Stereo          bool
	HasAudio        bool
	HasVideo        bool
	// Encoder names the software that wrote the stream.
	Encoder string
	// Keyframes is the seek index some muxers (yamdi, flvtool2, ffmpeg
	// with -flvflags add_keyframe_index) add.
	Keyframes Keyframes
}

// Keyframes is the "keyframes" seek index of onMetaData: for each
// keyframe, its time in seconds and the byte offset of its tag in the
// file.
type Keyframes struct {
	Times         []float64
	FilePositions []float64
}

// VideoCodecFourCC returns the video codec of the metadata as a FourCC:
// the FourCC itself for Enhanced RTMP values, FourCCAVC1 for legacy id 7,
// FourCCHVC1 for id 12, and 0 otherwise.
func (md *Metadata) VideoCodecFourCC() FourCC {
	switch id := md.VideoCodecID; id {
	case float64(CodecAVC):
		return FourCCAVC1
	case float64(CodecHEVC):
		return FourCCHVC1
	default:
		if id >= 1<<24 && id <= math.MaxUint32 && id == math.Trunc(id) {
			return FourCC(uint32(id))
		}
	}
	return 0
}

// AudioCodecFourCC returns the audio codec of the metadata as a FourCC:
// the FourCC itself for Enhanced RTMP values, FourCCMP4A for legacy AAC,
// FourCCMP3 for MP3, and 0 otherwise.
func (md *Metadata) AudioCodecFourCC() FourCC {
	switch id := md.AudioCodecID; id {
	case float64(SoundFormatAAC):
		return FourCCMP4A
	case float64(SoundFormatMP3), float64(SoundFormatMP38kHz):
		return FourCCMP3
	default:
		if id >= 1<<24 && id <= math.MaxUint32 && id == math.Trunc(id) {
			return FourCC(uint32(id))
		}
	}
	return 0
}

// present reports whether a numeric field is written (any value but +0).
func present(f float64) bool { return math.Float64bits(f) != 0 }

// AppendOnMetaData appends the body of an onMetaData script tag: the AMF0
// string "onMetaData" and an ECMA array of md's properties, and returns the
// extended slice. duration, hasAudio and hasVideo are always written;
// other numbers only when not zero, stereo when HasAudio or Stereo is set,
// encoder when not empty, and a "keyframes" object holding "times" and
// "filepositions" strict arrays when either is not empty. It does not
// allocate when dst has room.
func AppendOnMetaData(dst []byte, md *Metadata) []byte {
	nums := [...]struct {
		key string
		val float64
	}{
		{"width", md.Width},
		{"height", md.Height},
		{"videodatarate", md.VideoDataRate},
		{"framerate", md.FrameRate},
		{"videocodecid", md.VideoCodecID},
		{"audiodatarate", md.AudioDataRate},
		{"audiosamplerate", md.AudioSampleRate},
		{"audiosamplesize", md.AudioSampleSize},
		{"audiocodecid", md.AudioCodecID},
		{"filesize", md.FileSize},
	}
	count := uint32(3) // duration, hasAudio, hasVideo
	for _, n := range nums {
		if present(n.val) {
			count++
		}
	}
	stereo := md.HasAudio || md.Stereo
	hasKeyframes := len(md.Keyframes.Times) > 0 || len(md.Keyframes.FilePositions) > 0
	if stereo {
		count++
	}
	if md.Encoder != "" {
		count++
	}
	if hasKeyframes {
		count++
	}

	dst = amf0.AppendString(dst, OnMetaData)
	dst = amf0.AppendECMAArrayStart(dst, count)
	dst = amf0.AppendPropNumber(dst, "duration", md.Duration)
	for _, n := range nums {
		if present(n.val) {
			dst = amf0.AppendPropNumber(dst, n.key, n.val)
		}
	}
	if stereo {
		dst = amf0.AppendPropBool(dst, "stereo", md.Stereo)
	}
	if md.Encoder != "" {
		dst = amf0.AppendKey(dst, "encoder")
		dst = amf0.AppendString(dst, md.Encoder)
	}
	dst = amf0.AppendPropBool(dst, "hasAudio", md.HasAudio)
	dst = amf0.AppendPropBool(dst, "hasVideo", md.HasVideo)
	if hasKeyframes {
		dst = amf0.AppendKey(dst, "keyframes")
		dst = amf0.AppendObjectStart(dst)
		dst = appendNumberArray(dst, "filepositions", md.Keyframes.FilePositions)
		dst = appendNumberArray(dst, "times", md.Keyframes.Times)
		dst = amf0.AppendObjectEnd(dst)
	}
	return amf0.AppendObjectEnd(dst)
}

// appendNumberArray appends the property key: strict array of vals.
func appendNumberArray(dst []byte, key string, vals []float64) []byte {
	dst = amf0.AppendKey(dst, key)
	dst = amf0.AppendStrictArrayStart(dst, uint32(len(vals)))
	for _, v := range vals {
		dst = amf0.AppendNumber(dst, v)
	}
	return dst
}

// StripSetDataFrame returns the part of a script data body after a leading
// AMF0 string "@setDataFrame", or body itself when it does not start with
// one. The result aliases body. It does not allocate. Servers use it to
// turn a publisher's "@setDataFrame", "onMetaData", {...} data message into
// the "onMetaData", {...} body they store and send to players.
func StripSetDataFrame(body []byte) []byte {
	if len(body) >= len(setDataFramePrefix) && string(body[:len(setDataFramePrefix)]) == setDataFramePrefix {
		return body[len(setDataFramePrefix):]
	}
	return body
}

// ReadOnMetaData decodes an onMetaData script data body into md. body may
// start with "onMetaData" or with "@setDataFrame", "onMetaData"; the
// properties may be an ECMA array or an object. Properties this package
// does not know, and known ones of an unexpected AMF0 type, are ignored;
// bytes after the properties are ignored. md is reset first; its keyframe
// slices are reused. Numbers are taken as found (also NaN and infinities);
// a codec id given as a four-character string is read as that FourCC.
//
// doc is scratch storage reused across calls so that steady-state decoding
// does not allocate (nil makes a temporary one); it aliases body until its
// next use. md.Encoder is a copy, so md does not alias body. Errors:
// ErrNotOnMetaData when the body names another object, ErrBadMetadata
// (possibly wrapping an amf0 error) when it is malformed.
func ReadOnMetaData(body []byte, doc *amf0.Document, md *Metadata) error {
	if doc == nil {
		doc = new(amf0.Document)
	}
	body = StripSetDataFrame(body)
	times, positions, encoder := md.Keyframes.Times[:0], md.Keyframes.FilePositions[:0], md.Encoder
	*md = Metadata{Keyframes: Keyframes{Times: times, FilePositions: positions}}
	_, err := doc.Decode(body)
	if doc.Len() == 0 {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadMetadata, err)
		}
		return ErrBadMetadata
	}
	if name := doc.At(0); name.Kind() != amf0.KindString || string(name.Bytes()) != OnMetaData {
		return ErrNotOnMetaData
	}
	obj := doc.At(1)
	switch obj.Kind() {
	case amf0.KindECMAArray, amf0.KindObject:
	default:
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadMetadata, err)
		}
		return ErrBadMetadata
	}
	for i := range obj.Len() {
		key, v := obj.Field(i)
		switch string(key) {
		case "duration":
			readNumber(v, &md.Duration)
		case "width":
			readNumber(v, &md.Width)
		case "height":
			readNumber(v, &md.Height)
		case "videodatarate":
			readNumber(v, &md.VideoDataRate)
		case "framerate":
			readNumber(v, &md.FrameRate)
		case "videocodecid":
			readCodecID(v, &md.VideoCodecID)
		case "audiodatarate":
			readNumber(v, &md.AudioDataRate)
		case "audiosamplerate":
			readNumber(v, &md.AudioSampleRate)
		case "audiosamplesize":
			readNumber(v, &md.AudioSampleSize)
		case "audiocodecid":
			readCodecID(v, &md.AudioCodecID)
		case "filesize":
			readNumber(v, &md.FileSize)
		case "stereo":
			readBool(v, &md.Stereo)
		case "hasAudio":
			readBool(v, &md.HasAudio)
		case "hasVideo":
			readBool(v, &md.HasVideo)
		case "encoder":
			switch v.Kind() {
			case amf0.KindString, amf0.KindLongString:
				if b := v.Bytes(); string(b) == encoder {
					md.Encoder = encoder // reuse: no allocation
				} else {
					md.Encoder = string(b)
				}
			}
		case "keyframes":
			switch v.Kind() {
			case amf0.KindObject, amf0.KindECMAArray:
				md.Keyframes.Times = readNumbers(v.Get("times"), md.Keyframes.Times[:0])
				md.Keyframes.FilePositions = readNumbers(v.Get("filepositions"), md.Keyframes.FilePositions[:0])
			}
		}
	}
	return nil
}

// readNumber stores a Number value in *f; other kinds are ignored.
func readNumber(v amf0.Value, f *float64) {
	if v.Kind() == amf0.KindNumber {
		*f = v.Number()
	}
}

// readCodecID stores a codec id given as a Number, or as a four-character
// string naming a FourCC, in *f.
func readCodecID(v amf0.Value, f *float64) {
	switch v.Kind() {
	case amf0.KindNumber:
		*f = v.Number()
	case amf0.KindString:
		if b := v.Bytes(); len(b) == 4 {
			*f = float64(readFourCC(b))
		}
	}
}

// readBool stores a Boolean (or a Number, true when not zero) in *b.
func readBool(v amf0.Value, b *bool) {
	switch v.Kind() {
	case amf0.KindBoolean:
		*b = v.Bool()
	case amf0.KindNumber:
		*b = v.Number() != 0
	}
}

// readNumbers appends the elements of a strict array (or the property
// values of an object or ECMA array) to dst; elements that are not
// Numbers read as 0.
func readNumbers(v amf0.Value, dst []float64) []float64 {
	switch v.Kind() {
	case amf0.KindStrictArray, amf0.KindObject, amf0.KindECMAArray:
	default:
		return dst
	}
	for i := range v.Len() {
		dst = append(dst, v.Index(i).Number())
	}
	return dst
}
