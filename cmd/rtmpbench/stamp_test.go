package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/quaverlive/quaver/flvmux"
)

// stampCases drive the round trip test, the fuzz seeds and the benchmark.
var stampCases = []struct {
	name string
	t    int64
	seq  uint64
}{
	{"zero", 0, 0},  // all-zero fields: the most emulation prevention bytes
	{"small", 1, 1}, // 00 00 01 patterns
	{"now", 1_790_000_000_123_456_789, 12345},    // a realistic stamp
	{"threes", 0x0000030000030000, 0x0300000300}, // 00 00 03 in the data itself
	{"max", math.MaxInt64, math.MaxUint64},
	{"negative", -1, 1 << 63},
}

// legacyFrame returns an FLV AVC NALU video body with the stamp first and
// then a slice NAL unit.
func legacyFrame(t int64, seq uint64) []byte {
	b := []byte{flvmux.FrameInter<<4 | flvmux.CodecAVC, flvmux.AVCNALU, 0, 0, 0}
	b = AppendStamp(b, t, seq)
	return append(b, sliceNAL(64, 0x41)...)
}

func TestStampRoundTrip(t *testing.T) {
	for _, tc := range stampCases {
		t.Run(tc.name, func(t *testing.T) {
			frame := legacyFrame(tc.t, tc.seq)
			got, seq, ok := ReadStamp(frame)
			if !ok || got != tc.t || seq != tc.seq {
				t.Fatalf("ReadStamp = %d, %d, %v; want %d, %d, true", got, seq, ok, tc.t, tc.seq)
			}
			// The escaped NAL must not contain a start code prefix or an
			// unescaped 00 00 0x (x <= 3).
			nal := AppendStamp(nil, tc.t, tc.seq)[4:]
			if len(nal) > maxStampNAL {
				t.Fatalf("NAL is %d bytes, over maxStampNAL %d", len(nal), maxStampNAL)
			}
			for i := 0; i+2 < len(nal); i++ {
				if nal[i] == 0 && nal[i+1] == 0 && nal[i+2] < 3 {
					t.Fatalf("emulation pattern at %d: % x", i, nal)
				}
			}
			if n := binary.BigEndian.Uint32(AppendStamp(nil, tc.t, tc.seq)); int(n) != len(nal) {
				t.Fatalf("length prefix %d, NAL %d bytes", n, len(nal))
			}
		})
	}
}

func TestStampEnhanced(t *testing.T) {
	// Enhanced RTMP avc1 CodedFramesX: header byte, FourCC, then NAL units.
	b := []byte{0x80 | flvmux.FrameInter<<4 | flvmux.VideoPacketCodedFramesX, 'a', 'v', 'c', '1'}
	b = append(b, sliceNAL(32, 0x41)...) // a NAL before the stamp is skipped
	b = AppendStamp(b, 42, 7)
	if got, seq, ok := ReadStamp(b); !ok || got != 42 || seq != 7 {
		t.Fatalf("ReadStamp = %d, %d, %v", got, seq, ok)
	}
	// Enhanced hvc1 is not stamped.
	copy(b[1:], "hvc1")
	if _, _, ok := ReadStamp(b); ok {
		t.Fatal("stamp found in an hvc1 frame")
	}
}

func TestStampAbsent(t *testing.T) {
	frame := legacyFrame(5, 6)
	other := bytes.Clone(frame)
	other[5+4+3] ^= 0xff // UUID changed
	cases := map[string][]byte{
		"empty":           nil,
		"header only":     frame[:5],
		"truncated NAL":   frame[:20],
		"foreign UUID":    other,
		"sequence header": {0x17, 0, 0, 0, 0, 1, 100, 0, 31, 0xff},
		"not AVC":         {0x22, 1, 0, 0, 0, 0, 0, 0, 1, 6},
		"plain slice":     append([]byte{0x27, 1, 0, 0, 0}, sliceNAL(64, 0x41)...),
	}
	for name, b := range cases {
		if _, _, ok := ReadStamp(b); ok {
			t.Errorf("%s: stamp found", name)
		}
	}
}

func TestUnescape(t *testing.T) {
	escaped := []byte{0, 0, 3, 1, 0, 0, 3, 0, 0, 3}
	var buf [16]byte
	n := unescape(buf[:], escaped)
	if want := []byte{0, 0, 1, 0, 0, 0, 0}; !bytes.Equal(buf[:n], want) {
		t.Fatalf("unescape = % x, want % x", buf[:n], want)
	}
	if got := appendEscaped(nil, buf[:n]); !bytes.Equal(got, escaped[:len(escaped)-1]) {
		t.Fatalf("appendEscaped = % x", got)
	}
}

func FuzzReadStamp(f *testing.F) {
	for _, tc := range stampCases {
		f.Add(legacyFrame(tc.t, tc.seq), tc.t, tc.seq)
	}
	f.Fuzz(func(t *testing.T, payload []byte, ts int64, seq uint64) {
		ReadStamp(payload) // no panic on any input
		frame := legacyFrame(ts, seq)
		if got, s, ok := ReadStamp(frame); !ok || got != ts || s != seq {
			t.Fatalf("round trip: %d, %d, %v; want %d, %d", got, s, ok, ts, seq)
		}
	})
}

func BenchmarkStamp(b *testing.B) {
	frame := legacyFrame(stampCases[2].t, stampCases[2].seq)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		buf = AppendStamp(buf[:0], 1, 2)
		if _, _, ok := ReadStamp(frame); !ok {
			b.Fatal("no stamp")
		}
	}
}
