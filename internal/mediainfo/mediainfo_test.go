package mediainfo

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/quaverlive/quaver/flvmux"
)

// SPS NAL units written by x264 (ffmpeg -c:v libx264) for the named sizes.
var spsCases = []struct {
	name          string
	hex           string
	width, height int
	fps           float64
	profile       uint8
}{
	{"baseline 320x240 25fps", "6742c00dda0507ec0440000003004000000c83c50aa8", 320, 240, 25, 66},
	{"baseline 1920x1080 cropped", "6742c028da01e0089f97011000000300100000030320f1832a", 1920, 1080, 25, 66},
	{"high 1280x720 30fps", "6764001facd9405005bb0110000003001000000303c0f1831960", 1280, 720, 30, 100},
}

func TestParseSPS(t *testing.T) {
	for _, c := range spsCases {
		t.Run(c.name, func(t *testing.T) {
			nal, _ := hex.DecodeString(c.hex)
			sps, err := ParseSPS(nal)
			if err != nil {
				t.Fatal(err)
			}
			if sps.Width != c.width || sps.Height != c.height || sps.FrameRate != c.fps || sps.Profile != c.profile {
				t.Fatalf("got %+v, want %dx%d %v fps profile %d", sps, c.width, c.height, c.fps, c.profile)
			}
			for n := range nal { // truncations never panic
				_, _ = ParseSPS(nal[:n])
			}
		})
	}
}

// avcSeqHeader wraps an SPS in a legacy AVC sequence header tag body.
func avcSeqHeader(sps []byte) []byte {
	b := []byte{0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	return append(b, sps...)
}

func TestDescribe(t *testing.T) {
	nal, _ := hex.DecodeString(spsCases[2].hex)
	meta := flvmux.AppendOnMetaData(nil, &flvmux.Metadata{Width: 640, Height: 360, FrameRate: 29.97, VideoCodecID: 7, AudioCodecID: 10})
	aac := []byte{0xaf, 0, 0x12, 0x10}

	got := Describe(meta, avcSeqHeader(nal), aac)
	want := Info{VideoCodec: "h264", AudioCodec: "aac", Width: 1280, Height: 720, FrameRate: 29.97}
	if got != want {
		t.Errorf("all: got %+v, want %+v", got, want)
	}
	got = Describe(meta, nil, nil) // metadata only
	want = Info{VideoCodec: "h264", AudioCodec: "aac", Width: 640, Height: 360, FrameRate: 29.97}
	if got != want {
		t.Errorf("metadata only: got %+v, want %+v", got, want)
	}
	got = Describe(nil, avcSeqHeader(nal), nil)
	want = Info{VideoCodec: "h264", Width: 1280, Height: 720, FrameRate: 30}
	if got != want {
		t.Errorf("sequence header only: got %+v, want %+v", got, want)
	}
	if got := Describe([]byte{1, 2}, []byte{0x17}, []byte{}); got != (Info{}) {
		t.Errorf("garbage: got %+v", got)
	}
}

func FuzzParseSPS(f *testing.F) {
	for _, c := range spsCases {
		nal, _ := hex.DecodeString(c.hex)
		f.Add(nal)
	}
	f.Fuzz(func(t *testing.T, nal []byte) {
		sps, err := ParseSPS(nal)
		if err == nil && (sps.Width <= 0 || sps.Height <= 0 || sps.Width > 16384 || sps.Height > 32768) {
			t.Fatalf("implausible size %+v", sps)
		}
	})
}
