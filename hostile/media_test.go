package hostile

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/flvmux"
)

// Synthetic media: H.264-looking video and AAC-looking audio that the server
// forwards without decoding. Each coded video frame carries its sequence
// number at bytes 5-8 (after the AVC packet header) so that a viewer can tell
// which frames it received over any transport.
const (
	honestFPS        = 25
	honestGOP        = 25 // a keyframe every second
	honestFrameBytes = 4 << 10
	honestAudioBytes = 300
	// maxFrames bounds a publisher (and the viewers' bookkeeping): 5 minutes.
	maxFrames = 300 * honestFPS
)

var (
	// videoSeqHeader is a fake AVC sequence header (AVCDecoderConfigurationRecord).
	videoSeqHeader = []byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0}
	// audioSeqHeader is an AAC sequence header (AudioSpecificConfig 44.1 kHz stereo).
	audioSeqHeader = []byte{0xaf, 0, 0x12, 0x10}
)

// appendVideo appends a coded video frame of size bytes with sequence number
// seq (a keyframe when key). fill, when set, is repeated over the body.
func appendVideo(dst []byte, key bool, seq uint32, size int, fill []byte) []byte {
	h := []byte{0x27, 1, 0, 0, 0}
	if key {
		h[0] = 0x17
	}
	dst = append(dst, h...)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	for i := len(h) + 4; i < size; i++ {
		if len(fill) > 0 {
			dst = append(dst, fill[i%len(fill)])
		} else {
			dst = append(dst, byte(seq)+byte(i))
		}
	}
	return dst
}

// frameSeq returns the sequence number of a coded video frame built by
// appendVideo; ok is false for sequence headers and foreign payloads.
func frameSeq(p []byte) (uint32, bool) {
	if len(p) < 9 || p[0]&0x0f != 7 || p[1] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(p[5:9]), true
}

// appendAudio appends a raw AAC frame of size bytes.
func appendAudio(dst []byte, size int) []byte {
	dst = append(dst, 0xaf, 1)
	for i := 2; i < size; i++ {
		dst = append(dst, byte(i))
	}
	return dst
}

// recordingMeta encodes an onMetaData body as Quaver's recorder writes it (see
// recorder/meta.go): the flvmux properties plus quaverComplete, quaverStartMs,
// quaverApp and quaverStream, which the recorder's index reads.
func recordingMeta(app, stream string, duration float64, start time.Time) []byte {
	md := flvmux.Metadata{
		Duration: duration, Width: 320, Height: 240, FrameRate: honestFPS,
		VideoCodecID: 7, AudioCodecID: 10, AudioSampleRate: 44100, AudioSampleSize: 16,
		Stereo: true, HasAudio: true, HasVideo: true, Encoder: "quaver hostile suite",
	}
	body := flvmux.AppendOnMetaData(nil, &md)
	body = body[:len(body)-3] // drop the object end, as the recorder does
	body = amf0.AppendPropBool(body, "quaverComplete", true)
	body = amf0.AppendPropNumber(body, "quaverStartMs", float64(start.UnixMilli()))
	body = amf0.AppendPropString(body, "quaverApp", app)
	body = amf0.AppendPropString(body, "quaverStream", stream)
	body = amf0.AppendObjectEnd(body)
	// "onMetaData" is 13 bytes, then the ECMA array marker and its count.
	n := binary.BigEndian.Uint32(body[14:18])
	binary.BigEndian.PutUint32(body[14:18], n+4)
	return body
}

// writeRecording writes a finished recording of app/stream of length d under
// dir/rel: FLV header, onMetaData, sequence headers, then frameBytes video
// frames at honestFPS (a keyframe every second) with one audio frame each.
// fill, when set, is repeated over every video frame body (a marker).
func writeRecording(dir, rel, app, stream string, d time.Duration, frameBytes int, fill []byte) error {
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	frames := int(d.Seconds() * honestFPS)
	start := time.Now().Add(-time.Hour - d)
	b := flvmux.AppendFileHeader(make([]byte, 0, 1<<20), true, true)
	b = flvmux.AppendTag(b, flvmux.TagScript, 0, recordingMeta(app, stream, d.Seconds(), start))
	b = flvmux.AppendTag(b, flvmux.TagVideo, 0, videoSeqHeader)
	b = flvmux.AppendTag(b, flvmux.TagAudio, 0, audioSeqHeader)
	var v, a []byte
	for i := range frames {
		ts := uint32(i * 1000 / honestFPS)
		v = appendVideo(v[:0], i%honestGOP == 0, uint32(i), frameBytes, fill)
		a = appendAudio(a[:0], honestAudioBytes)
		b = flvmux.AppendTag(b, flvmux.TagVideo, ts, v)
		b = flvmux.AppendTag(b, flvmux.TagAudio, ts, a)
		if len(b) > 512<<10 {
			if _, err := f.Write(b); err != nil {
				_ = f.Close()
				return err
			}
			b = b[:0]
		}
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
