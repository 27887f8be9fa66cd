package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

func TestGenSource(t *testing.T) {
	const bitrate, audio, fps, gop = 2_500_000, 128_000, 30, 60
	g := newGenSource(bitrate, audio, fps, gop)

	// Sequence headers: an AVCDecoderConfigurationRecord (High, 3.1, 4-byte
	// lengths, one SPS, one PPS) and an AAC-LC 48 kHz stereo config.
	hdrs := g.headers()
	if len(hdrs) != 2 || !flvmux.IsVideoSequenceHeader(hdrs[0].Body) || !flvmux.IsAudioSequenceHeader(hdrs[1].Body) {
		t.Fatalf("headers %+v", hdrs)
	}
	rec := hdrs[0].Body[videoHeaderLen:]
	if rec[0] != 1 || rec[1] != 100 || rec[3] != 31 || rec[4]&3 != 3 || rec[5]&0x1f != 1 {
		t.Errorf("AVC config % x", rec[:6])
	}
	spsLen := int(rec[6])<<8 | int(rec[7])
	if sps := rec[8 : 8+spsLen]; sps[0] != 0x67 {
		t.Errorf("SPS % x", sps)
	}
	if pps := rec[8+spsLen+3:]; pps[0] != 0x68 {
		t.Errorf("PPS % x", pps)
	}
	if !bytes.Equal(hdrs[1].Body, []byte{0xaf, 0, 0x11, 0x90}) {
		t.Errorf("AAC header % x", hdrs[1].Body)
	}
	var md flvmux.Metadata
	if err := flvmux.ReadOnMetaData(g.metadata(), &amf0.Document{}, &md); err != nil || md.Width != 1280 || md.FrameRate != fps {
		t.Errorf("metadata %+v, %v", md, err)
	}

	// Ten seconds of media: rates, cadence and ordering.
	var videoBytes, audioBytes, frames, keys int
	var lastDue time.Duration
	for {
		m := g.next()
		if m.Due < lastDue {
			t.Fatalf("due time went back: %v after %v", m.Due, lastDue)
		}
		lastDue = m.Due
		if m.Due >= 10*time.Second {
			break
		}
		n := len(m.Prefix) + len(m.Body)
		if m.TypeID == chunkcodec.TypeVideo {
			if !m.Frame || !m.Stamp {
				t.Fatal("video frame not counted or not stamped")
			}
			if frames%gop == 0 {
				keys++
				if m.Prefix[0]>>4 != flvmux.FrameKey {
					t.Fatalf("frame %d is not a keyframe", frames)
				}
			}
			frames++
			videoBytes += n
		} else {
			audioBytes += n
		}
	}
	if frames != 300 || keys != 5 {
		t.Errorf("%d frames, %d keyframes in 10 s", frames, keys)
	}
	if kbps := videoBytes * 8 / 10 / 1000; kbps < 2450 || kbps > 2550 {
		t.Errorf("video %d kbit/s", kbps)
	}
	if kbps := audioBytes * 8 / 10 / 1000; kbps < 120 || kbps > 136 {
		t.Errorf("audio %d kbit/s", kbps)
	}
}

func TestFileSource(t *testing.T) {
	// Write two seconds of the generated stream as an FLV file (frames
	// without stamps, as a camera's would be).
	g := newGenSource(500_000, 64_000, 25, 25)
	flv := flvmux.AppendFileHeader(nil, true, true)
	flv = flvmux.AppendTag(flv, flvmux.TagScript, 0, g.metadata())
	for _, h := range g.headers() {
		flv = flvmux.AppendTag(flv, h.TypeID, 0, h.Body)
	}
	nVideo := 0
	for {
		m := g.next()
		if m.Due >= 2*time.Second {
			break
		}
		if m.TypeID == chunkcodec.TypeVideo {
			nVideo++
		}
		flv = flvmux.AppendTag(flv, m.TypeID, m.Timestamp, append(bytes.Clone(m.Prefix), m.Body...))
	}
	path := filepath.Join(t.TempDir(), "in.flv")
	if err := os.WriteFile(path, flv, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newFileSource(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.headers()) != 2 || s.metadata() == nil || !s.stamp {
		t.Fatalf("headers %d, metadata %v, stamp %v", len(s.headers()), s.metadata() != nil, s.stamp)
	}
	// Three passes: timestamps keep increasing, video frames get stamps.
	var last uint32
	frames := 0
	for i := range 3 * len(s.tags) {
		m := s.next()
		if m.TypeID == chunkcodec.TypeVideo {
			frames++
			if !m.Stamp || !m.Frame || len(m.Prefix) != videoHeaderLen {
				t.Fatalf("video tag %d not stampable: %+v", i, m)
			}
			frame := AppendStamp(bytes.Clone(m.Prefix), 9, 9)
			frame = append(frame, m.Body...)
			if _, _, ok := ReadStamp(frame); !ok {
				t.Fatal("stamp not readable")
			}
			if m.Timestamp < last {
				t.Fatalf("video timestamp %d after %d", m.Timestamp, last)
			}
			last = m.Timestamp
		}
	}
	if frames != 3*nVideo || last < 5900 {
		t.Errorf("%d frames (want %d), last timestamp %d", frames, 3*nVideo, last)
	}
	if _, err := newFileSource(filepath.Join(t.TempDir(), "missing.flv")); err == nil {
		t.Error("missing file accepted")
	}
}
