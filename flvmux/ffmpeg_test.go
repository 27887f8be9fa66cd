package flvmux

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ffmpegTimeout bounds each ffmpeg run.
const ffmpegTimeout = 2 * time.Minute

// runFFmpeg writes an FLV file with ffmpeg from lavfi test sources and
// returns its bytes. It skips the test when ffmpeg is missing; ok is false
// when ffmpeg ran but failed (for example, an encoder or muxer feature
// missing from this build).
func runFFmpeg(t *testing.T, videoArgs ...string) (flv []byte, stderr string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	out := filepath.Join(t.TempDir(), "out.flv")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine",
		"-t", "2"}
	args = append(args, videoArgs...)
	args = append(args, "-g", "25", "-keyint_min", "25", "-c:a", "aac", "-f", "flv", out)
	ctx, cancel := context.WithTimeout(context.Background(), ffmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return nil, errb.String() + err.Error(), false
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, errb.String(), true
}

// checkFFmpegFLV reads an ffmpeg FLV file in random splits and checks its
// structure: onMetaData first, sequence headers before media, a keyframe
// every 25 video frames, and the expected video FourCC.
func checkFFmpegFLV(t *testing.T, flv []byte, wantVideo FourCC) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	var r Reader
	whole, err := collect(t, &r, [][]byte{flv})
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := r.Header(); !ok || !h.HasAudio || !h.HasVideo || r.PrevTagSizeMismatches() != 0 || r.Buffered() != 0 {
		t.Fatalf("header %+v %v, %d mismatches, %d bytes left", h, ok, r.PrevTagSizeMismatches(), r.Buffered())
	}
	for range 5 {
		tags, err := collect(t, &Reader{}, splitRandom(flv, rng))
		if err != nil || !tagsEqual(tags, whole) {
			t.Fatalf("split reading differs: %v", err)
		}
	}
	if len(whole) == 0 || whole[0].Type != TagScript {
		t.Fatal("first tag is not script data")
	}
	var md Metadata
	if err := ReadOnMetaData(whole[0].Data, nil, &md); err != nil {
		t.Fatalf("onMetaData: %v", err)
	}
	if md.Width != 320 || md.Height != 240 || md.FrameRate != 25 {
		t.Fatalf("onMetaData %+v", md)
	}
	if got := md.VideoCodecFourCC(); got != wantVideo {
		if wantVideo == FourCCAVC1 {
			t.Errorf("metadata video codec %v, want %v", got, wantVideo)
		} else {
			// Enhanced codec ids in onMetaData vary between ffmpeg versions.
			t.Logf("metadata video codec %v (videocodecid %v)", got, md.VideoCodecID)
		}
	}
	if got := md.AudioCodecFourCC(); got != FourCCMP4A {
		t.Errorf("metadata audio codec %v, want mp4a", got)
	}

	var frames, keyframes, audioFrames int
	var sawVideoSH, sawAudioSH bool
	for i, tag := range whole[1:] {
		switch tag.Type {
		case TagVideo:
			h, err := ReadVideoHeader(tag.Data)
			if err != nil || !h.Known() || h.FourCC != wantVideo {
				t.Fatalf("video tag %d: %+v %v", i, h, err)
			}
			if IsVideoKeyframe(tag.Data) != h.IsKeyframe() || IsVideoSequenceHeader(tag.Data) != h.IsSequenceHeader() {
				t.Fatalf("video tag %d: fast helpers disagree", i)
			}
			switch {
			case h.IsSequenceHeader():
				if sawVideoSH || frames > 0 {
					t.Fatalf("video sequence header at tag %d after media", i)
				}
				sawVideoSH = true
			case h.PacketType == VideoPacketSequenceEnd:
			default:
				if !sawVideoSH {
					t.Fatal("video frame before the sequence header")
				}
				if h.IsKeyframe() {
					if frames%25 != 0 {
						t.Errorf("keyframe at frame %d", frames)
					}
					keyframes++
				} else if frames%25 == 0 {
					t.Errorf("frame %d is not a keyframe", frames)
				}
				frames++
			}
		case TagAudio:
			h, err := ReadAudioHeader(tag.Data)
			if err != nil || !h.Known() || h.FourCC != FourCCMP4A {
				t.Fatalf("audio tag %d: %+v %v", i, h, err)
			}
			if h.IsSequenceHeader() {
				if sawAudioSH || audioFrames > 0 {
					t.Fatal("second AAC sequence header")
				}
				sawAudioSH = true
				continue
			}
			if !sawAudioSH {
				t.Fatal("audio frame before the AAC sequence header")
			}
			audioFrames++
		}
	}
	if frames != 50 || keyframes != 2 {
		t.Errorf("%d video frames, %d keyframes; want 50, 2", frames, keyframes)
	}
	// 2 s of 44.1 kHz AAC is about 86 frames of 1024 samples.
	if audioFrames < 80 || audioFrames > 100 {
		t.Errorf("%d audio frames", audioFrames)
	}
}

func TestFFmpegH264AAC(t *testing.T) {
	flv, stderr, ok := runFFmpeg(t, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-bf", "2", "-sc_threshold", "0")
	if !ok {
		t.Fatalf("ffmpeg failed: %s", stderr)
	}
	checkFFmpegFLV(t, flv, FourCCAVC1)
}

func TestFFmpegHEVCEnhanced(t *testing.T) {
	// ffmpeg 6.1+ writes HEVC in FLV with Enhanced RTMP headers; older
	// builds (or builds without libx265) refuse, and the test is skipped.
	flv, stderr, ok := runFFmpeg(t, "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-x265-params", "log-level=error:keyint=25:min-keyint=25:scenecut=0")
	if !ok {
		t.Skipf("this ffmpeg cannot write HEVC in FLV: %s", stderr)
	}
	checkFFmpegFLV(t, flv, FourCCHVC1)
	var r Reader
	tags, _ := collect(t, &r, [][]byte{flv})
	for _, tag := range tags {
		if tag.Type == TagVideo {
			if h, _ := ReadVideoHeader(tag.Data); !h.Enhanced {
				t.Fatalf("HEVC tag without the Enhanced RTMP header: %+v", h)
			}
		}
	}
}

// TestEnhancedRemuxCapture rewrites the real ffmpeg capture's legacy AVC and
// AAC tags as Enhanced RTMP avc1/mp4a tags (alternating plain, ModEx-wrapped
// and one-track Multitrack headers), muxes them again and checks that every
// header parses back to the same codec payload, frame type, packet type and
// composition time.
func TestEnhancedRemuxCapture(t *testing.T) {
	var r Reader
	tags, err := collect(t, &r, [][]byte{loadCapture(t)})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		payload    []byte
		frameType  uint8
		packetType uint8
		cts        int32
		key, seq   bool
		nano       uint32
		multitrack bool
	}
	var out []byte
	var wants []want
	out = AppendFileHeader(out, true, true)
	for i, tag := range tags {
		var data []byte
		w := want{}
		switch tag.Type {
		case TagVideo:
			h, err := ReadVideoHeader(tag.Data)
			if err != nil || h.Enhanced {
				t.Fatalf("capture video tag: %+v %v", h, err)
			}
			w = want{payload: tag.Data[h.HeaderLen:], frameType: h.FrameType, packetType: h.PacketType,
				cts: h.CompositionTime, key: h.IsKeyframe(), seq: h.IsSequenceHeader()}
			pt := h.PacketType
			if pt == VideoPacketCodedFrames && h.CompositionTime == 0 && i%2 == 0 {
				pt, w.packetType = VideoPacketCodedFramesX, VideoPacketCodedFramesX
			}
			switch i % 3 {
			case 0:
				data = cat(0x80|h.FrameType<<4|pt, "avc1")
			case 1:
				w.nano = 123456
				data = cat(0x80|h.FrameType<<4|VideoPacketModEx, 2, 0x01, 0xe2, 0x40, pt, "avc1")
			case 2:
				w.multitrack = true
				data = cat(0x80|h.FrameType<<4|VideoPacketMultitrack, MultitrackOneTrack<<4|pt, "avc1", 0)
			}
			if pt == VideoPacketCodedFrames {
				ct := uint32(h.CompositionTime)
				data = cat(data, byte(ct>>16), byte(ct>>8), byte(ct))
			}
			data = cat(data, w.payload)
		case TagAudio:
			h, err := ReadAudioHeader(tag.Data)
			if err != nil || h.Enhanced {
				t.Fatalf("capture audio tag: %+v %v", h, err)
			}
			w = want{payload: tag.Data[h.HeaderLen:], packetType: h.PacketType, seq: h.IsSequenceHeader()}
			if i%2 == 0 {
				data = cat(0x90|h.PacketType, "mp4a", w.payload)
			} else {
				w.multitrack = true
				data = cat(0x90|AudioPacketMultitrack, MultitrackOneTrack<<4|h.PacketType, "mp4a", 0, w.payload)
			}
		default:
			data = tag.Data
			w = want{payload: data}
		}
		out = AppendTag(out, tag.Type, tag.Timestamp, data)
		wants = append(wants, w)
	}

	var r2 Reader
	got, err := collect(t, &r2, splitEvery(out, 333))
	if err != nil || len(got) != len(wants) || r2.PrevTagSizeMismatches() != 0 {
		t.Fatalf("re-read: %v, %d tags, %d mismatches", err, len(got), r2.PrevTagSizeMismatches())
	}
	for i, tag := range got {
		w := wants[i]
		switch tag.Type {
		case TagVideo:
			h, err := ReadVideoHeader(tag.Data)
			if err != nil || !h.Enhanced || !h.Known() || h.FourCC != FourCCAVC1 || h.FrameType != w.frameType ||
				h.PacketType != w.packetType || h.CompositionTime != w.cts || h.IsKeyframe() != w.key ||
				h.IsSequenceHeader() != w.seq || h.TimestampOffsetNano != w.nano || h.Multitrack != w.multitrack ||
				!bytes.Equal(tag.Data[h.HeaderLen:], w.payload) {
				t.Fatalf("video tag %d: %+v %v, want %+v", i, h, err, w)
			}
			if IsVideoKeyframe(tag.Data) != w.key || IsVideoSequenceHeader(tag.Data) != w.seq {
				t.Fatalf("video tag %d: fast helpers disagree", i)
			}
		case TagAudio:
			h, err := ReadAudioHeader(tag.Data)
			if err != nil || !h.Enhanced || !h.Known() || h.FourCC != FourCCMP4A || h.PacketType != w.packetType ||
				h.IsSequenceHeader() != w.seq || h.Multitrack != w.multitrack || !bytes.Equal(tag.Data[h.HeaderLen:], w.payload) {
				t.Fatalf("audio tag %d: %+v %v, want %+v", i, h, err, w)
			}
			if IsAudioSequenceHeader(tag.Data) != w.seq {
				t.Fatalf("audio tag %d: fast helper disagrees", i)
			}
		}
	}
}
