package wsflv_test

import (
	"testing"

	"github.com/quaverlive/quaver/wsflv"
)

// BenchmarkWSFramePrefix is the per-tag cost of WS-FLV framing: the header of
// the binary frame that carries one 4 KiB FLV tag (tag header, data and
// PreviousTagSize).
func BenchmarkWSFramePrefix(b *testing.B) {
	const tag = 11 + 4096 + 4
	dst := make([]byte, 0, wsflv.MaxFrameHeader)
	b.ReportAllocs()
	b.SetBytes(tag)
	for b.Loop() {
		dst = wsflv.AppendFrameHeader(dst[:0], true, wsflv.OpBinary, tag)
	}
}

func BenchmarkReadRequest(b *testing.B) {
	var r wsflv.Request
	for _, c := range requestCases() {
		if c.err != nil || c.more || c.bug != "" {
			continue
		}
		wire := []byte(c.wire)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if _, err := wsflv.ReadRequest(wire, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadFrameHeader(b *testing.B) {
	for _, c := range frameCases() {
		if c.err != nil || c.n == 0 {
			continue
		}
		wire := c.wire[:c.n]
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if _, _, err := wsflv.ReadFrameHeader(wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmask(b *testing.B) {
	p := make([]byte, wsflv.MaxControlPayload)
	key := [4]byte{1, 2, 3, 4}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		wsflv.Unmask(p, key, 0)
	}
}

// BenchmarkFrameDecoder feeds each well-formed stream of the case table whole.
func BenchmarkFrameDecoder(b *testing.B) {
	var d wsflv.FrameDecoder
	for _, c := range streamCases() {
		if c.err != nil || len(c.frames) == 0 {
			continue
		}
		wire := c.wire
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				d.Reset()
				for p := wire; len(p) > 0; {
					n, _, err := d.Feed(p)
					if err != nil {
						b.Fatal(err)
					}
					p = p[n:]
				}
			}
		})
	}
}
