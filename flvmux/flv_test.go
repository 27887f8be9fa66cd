package flvmux

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestReadFileHeader(t *testing.T) {
	for _, c := range fileHeaderCases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := ReadFileHeader(c.wire)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if n != c.n || h != c.value {
				t.Fatalf("got %+v, %d; want %+v, %d", h, n, c.value, c.n)
			}
			// Every proper prefix needs more bytes.
			if n > 0 {
				for i := range n {
					if _, m, err := ReadFileHeader(c.wire[:i]); m != 0 || err != nil {
						t.Fatalf("prefix %d: n = %d, err = %v", i, m, err)
					}
				}
			}
		})
	}
}

func TestAppendFileHeader(t *testing.T) {
	for _, c := range fileHeaderCases {
		if !c.encode {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got := AppendFileHeader([]byte("x"), c.value.HasAudio, c.value.HasVideo)
			if !bytes.Equal(got[1:], c.wire) || got[0] != 'x' {
				t.Fatalf("got % x, want % x", got[1:], c.wire)
			}
		})
	}
}

func TestReadTagHeader(t *testing.T) {
	for _, c := range tagHeaderCases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := ReadTagHeader(c.wire)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			switch {
			case err != nil:
			case c.short:
				if n != 0 {
					t.Fatalf("n = %d, want 0 (need more)", n)
				}
			default:
				if n != TagHeaderSize || h != c.value {
					t.Fatalf("got %+v, %d; want %+v, %d", h, n, c.value, TagHeaderSize)
				}
			}
		})
	}
}

func TestAppendTagHeader(t *testing.T) {
	for _, c := range tagHeaderCases {
		if !c.encode {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got := AppendTagHeader(nil, c.value.Type, c.value.DataSize, c.value.Timestamp)
			if !bytes.Equal(got, c.wire) {
				t.Fatalf("got % x, want % x", got, c.wire)
			}
		})
	}
}

func TestAppendTag(t *testing.T) {
	data := []byte{0xaf, 0x01, 1, 2, 3}
	got := AppendTag(nil, TagAudio, 0x01020304, data)
	want := cat(8, 0, 0, 5, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, data, 0, 0, 0, 16)
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
	if len(got) != TagSize(len(data)) {
		t.Fatalf("TagSize = %d, len = %d", TagSize(len(data)), len(got))
	}
	h, n, err := ReadTagHeader(got)
	if err != nil || n != TagHeaderSize || h.DataSize != 5 || h.Timestamp != 0x01020304 || h.Type != TagAudio {
		t.Fatalf("read back %+v %d %v", h, n, err)
	}
}

func TestFourCCString(t *testing.T) {
	for _, c := range []struct {
		f    FourCC
		want string
	}{
		{FourCCAVC1, "avc1"}, {FourCCHVC1, "hvc1"}, {FourCCVP08, "vp08"}, {FourCCVP09, "vp09"},
		{FourCCAV01, "av01"}, {FourCCMP4A, "mp4a"}, {FourCCOpus, "Opus"}, {FourCCFLAC, "fLaC"},
		{FourCCMP3, ".mp3"}, {FourCCAC3, "ac-3"}, {FourCCEAC3, "ec-3"},
		{0, "0x00000000"}, {12, "0x0000000c"}, {0xdeadbeef, "0xdeadbeef"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%#x: got %q, want %q", uint32(c.f), got, c.want)
		}
	}
	for _, f := range []FourCC{FourCCAVC1, FourCCHVC1, FourCCVP08, FourCCVP09, FourCCAV01} {
		if !f.IsVideo() || f.IsAudio() {
			t.Errorf("%v: IsVideo %v IsAudio %v", f, f.IsVideo(), f.IsAudio())
		}
	}
	for _, f := range []FourCC{FourCCMP4A, FourCCOpus, FourCCFLAC, FourCCMP3, FourCCAC3, FourCCEAC3} {
		if f.IsVideo() || !f.IsAudio() {
			t.Errorf("%v: IsVideo %v IsAudio %v", f, f.IsVideo(), f.IsAudio())
		}
	}
}

func TestReadVideoHeader(t *testing.T) {
	for _, c := range videoCases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ReadVideoHeader(c.wire)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				if IsVideoKeyframe(c.wire) || IsVideoSequenceHeader(c.wire) {
					t.Fatal("fast helpers accept a truncated header")
				}
				return
			}
			if h != c.value {
				t.Fatalf("got  %+v\nwant %+v", h, c.value)
			}
			if h.Known() != c.known || h.IsKeyframe() != c.key || h.IsSequenceHeader() != c.seq {
				t.Fatalf("Known %v IsKeyframe %v IsSequenceHeader %v; want %v %v %v",
					h.Known(), h.IsKeyframe(), h.IsSequenceHeader(), c.known, c.key, c.seq)
			}
			if IsVideoKeyframe(c.wire) != c.key || IsVideoSequenceHeader(c.wire) != c.seq {
				t.Fatalf("fast helpers: key %v seq %v", IsVideoKeyframe(c.wire), IsVideoSequenceHeader(c.wire))
			}
			if h.HeaderLen > len(c.wire) {
				t.Fatalf("HeaderLen %d > %d", h.HeaderLen, len(c.wire))
			}
		})
	}
}

func TestReadAudioHeader(t *testing.T) {
	for _, c := range audioCases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ReadAudioHeader(c.wire)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				if IsAudioSequenceHeader(c.wire) {
					t.Fatal("fast helper accepts a truncated header")
				}
				return
			}
			if h != c.value {
				t.Fatalf("got  %+v\nwant %+v", h, c.value)
			}
			if h.Known() != c.known || h.IsSequenceHeader() != c.seq {
				t.Fatalf("Known %v IsSequenceHeader %v; want %v %v", h.Known(), h.IsSequenceHeader(), c.known, c.seq)
			}
			if IsAudioSequenceHeader(c.wire) != c.seq {
				t.Fatalf("IsAudioSequenceHeader = %v", !c.seq)
			}
			if h.HeaderLen > len(c.wire) {
				t.Fatalf("HeaderLen %d > %d", h.HeaderLen, len(c.wire))
			}
		})
	}
}

// metadataEqual compares two Metadata values, numbers by their bits (so
// NaN equals itself) and keyframe slices by content (nil equals empty).
func metadataEqual(a, b *Metadata) bool {
	fa := [...]float64{a.Duration, a.Width, a.Height, a.VideoDataRate, a.FrameRate, a.VideoCodecID,
		a.AudioDataRate, a.AudioSampleRate, a.AudioSampleSize, a.AudioCodecID, a.FileSize}
	fb := [...]float64{b.Duration, b.Width, b.Height, b.VideoDataRate, b.FrameRate, b.VideoCodecID,
		b.AudioDataRate, b.AudioSampleRate, b.AudioSampleSize, b.AudioCodecID, b.FileSize}
	for i := range fa {
		if math.Float64bits(fa[i]) != math.Float64bits(fb[i]) {
			return false
		}
	}
	return a.Stereo == b.Stereo && a.HasAudio == b.HasAudio && a.HasVideo == b.HasVideo &&
		a.Encoder == b.Encoder &&
		floatsEqual(a.Keyframes.Times, b.Keyframes.Times) &&
		floatsEqual(a.Keyframes.FilePositions, b.Keyframes.FilePositions)
}

func floatsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestReadOnMetaData(t *testing.T) {
	var md Metadata
	var doc = newDoc()
	for _, c := range metadataCases {
		t.Run(c.name, func(t *testing.T) {
			err := ReadOnMetaData(c.wire, doc, &md)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if !metadataEqual(&md, &c.value) {
				t.Fatalf("got  %+v\nwant %+v", md, c.value)
			}
		})
	}
}

func TestAppendOnMetaData(t *testing.T) {
	for _, c := range metadataCases {
		if !c.encode {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got := AppendOnMetaData(nil, &c.value)
			if !bytes.Equal(got, c.wire) {
				t.Fatalf("got  % x\nwant % x", got, c.wire)
			}
			// Round trip, also behind @setDataFrame.
			var md Metadata
			for _, body := range [][]byte{got, append(str(SetDataFrame), got...)} {
				if err := ReadOnMetaData(body, nil, &md); err != nil || !metadataEqual(&md, &c.value) {
					t.Fatalf("round trip: %v\ngot  %+v\nwant %+v", err, md, c.value)
				}
			}
		})
	}
}

func TestStripSetDataFrame(t *testing.T) {
	body := AppendOnMetaData(nil, &fullMetadata)
	withPrefix := append(str(SetDataFrame), body...)
	if got := StripSetDataFrame(withPrefix); !bytes.Equal(got, body) || &got[0] != &withPrefix[16] {
		t.Fatal("prefix not stripped in place")
	}
	if got := StripSetDataFrame(body); &got[0] != &body[0] {
		t.Fatal("body without prefix changed")
	}
	for _, b := range [][]byte{nil, str("@setDataFram"), str("@setDataFrameX")} {
		if got := StripSetDataFrame(b); !bytes.Equal(got, b) {
			t.Fatalf("%q stripped to %q", b, got)
		}
	}
}

func TestMetadataCodecFourCC(t *testing.T) {
	for _, c := range []struct {
		v, a float64
		wv   FourCC
		wa   FourCC
	}{
		{7, 10, FourCCAVC1, FourCCMP4A},
		{12, 2, FourCCHVC1, FourCCMP3},
		{float64(FourCCAV01), float64(FourCCOpus), FourCCAV01, FourCCOpus},
		{2, 11, 0, 0},
		{math.NaN(), 1e300, 0, 0},
	} {
		md := Metadata{VideoCodecID: c.v, AudioCodecID: c.a}
		if md.VideoCodecFourCC() != c.wv || md.AudioCodecFourCC() != c.wa {
			t.Errorf("%v/%v: got %v/%v", c.v, c.a, md.VideoCodecFourCC(), md.AudioCodecFourCC())
		}
	}
}
