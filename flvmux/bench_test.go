package flvmux

import "testing"

// BenchmarkAppendTag muxes one 64 KiB video tag.
func BenchmarkAppendTag(b *testing.B) {
	data := make([]byte, 64<<10)
	data[0], data[1] = 0x27, 0x01
	dst := make([]byte, 0, TagSize(len(data)))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = AppendTag(dst[:0], TagVideo, 40, data)
	}
}

// BenchmarkReaderFeed demuxes a synthetic 1 MiB stream of 8 KiB video and
// 300-byte audio tags, fed whole, in 1500-byte network-sized pieces and in
// 64 KiB pieces, and the committed ffmpeg capture.
func BenchmarkReaderFeed(b *testing.B) {
	video := make([]byte, 8<<10)
	video[0], video[1] = 0x27, 0x01
	audio := make([]byte, 300)
	audio[0], audio[1] = 0xaf, 0x01
	stream := AppendFileHeader(nil, true, true)
	for ts := uint32(0); len(stream) < 1<<20; ts += 40 {
		stream = AppendTag(stream, TagVideo, ts, video)
		stream = AppendTag(stream, TagAudio, ts, audio)
	}
	for _, bc := range []struct {
		name   string
		chunks [][]byte
	}{
		{"whole", [][]byte{stream}},
		{"1500B", splitEvery(stream, 1500)},
		{"64KiB", splitEvery(stream, 64<<10)},
		{"capture", [][]byte{loadCapture(b)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var r Reader
			var size int
			for _, c := range bc.chunks {
				size += len(c)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				r.Reset()
				for _, p := range bc.chunks {
					for len(p) > 0 {
						n, _, err := r.Feed(p)
						if err != nil {
							b.Fatal(err)
						}
						p = p[n:]
					}
				}
			}
		})
	}
}

// BenchmarkReadVideoHeader parses every video case once per iteration.
func BenchmarkReadVideoHeader(b *testing.B) {
	benchPayloads(b, videoPayloads(), func(p []byte) bool {
		h, _ := ReadVideoHeader(p)
		return h.IsKeyframe()
	})
}

// BenchmarkReadAudioHeader parses every audio case once per iteration.
func BenchmarkReadAudioHeader(b *testing.B) {
	var ps [][]byte
	for _, c := range audioCases {
		ps = append(ps, c.wire)
	}
	benchPayloads(b, ps, func(p []byte) bool {
		h, _ := ReadAudioHeader(p)
		return h.IsSequenceHeader()
	})
}

// BenchmarkIsVideoKeyframe runs the fanout hot-path helpers over every
// video case.
func BenchmarkIsVideoKeyframe(b *testing.B) {
	benchPayloads(b, videoPayloads(), func(p []byte) bool {
		return IsVideoKeyframe(p) != IsVideoSequenceHeader(p)
	})
}

// BenchmarkReadTagHeader parses every tag header case.
func BenchmarkReadTagHeader(b *testing.B) {
	var ps [][]byte
	for _, c := range tagHeaderCases {
		ps = append(ps, c.wire)
	}
	benchPayloads(b, ps, func(p []byte) bool {
		h, _, _ := ReadTagHeader(p)
		return h.Filter
	})
}

func videoPayloads() [][]byte {
	var ps [][]byte
	for _, c := range videoCases {
		ps = append(ps, c.wire)
	}
	return ps
}

// benchPayloads runs f over all payloads per iteration; SetBytes counts
// the header bytes parsed.
func benchPayloads(b *testing.B, ps [][]byte, f func([]byte) bool) {
	var n int
	for _, p := range ps {
		n += min(len(p), 16)
	}
	var sink bool
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, p := range ps {
			sink = sink != f(p)
		}
	}
	_ = sink
}

// BenchmarkAppendOnMetaData encodes a full onMetaData body.
func BenchmarkAppendOnMetaData(b *testing.B) {
	md := fullMetadata
	dst := AppendOnMetaData(nil, &md)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		dst = AppendOnMetaData(dst[:0], &md)
	}
}

// BenchmarkReadOnMetaData decodes each valid metadata case and the
// capture's onMetaData.
func BenchmarkReadOnMetaData(b *testing.B) {
	capture := loadCapture(b)
	bodies := [][]byte{capture[13+TagHeaderSize : 13+TagHeaderSize+575]}
	for _, c := range metadataCases {
		if c.err == nil { // error paths wrap with fmt.Errorf and allocate
			bodies = append(bodies, c.wire)
		}
	}
	var n int
	for _, body := range bodies {
		n += len(body)
	}
	doc := newDoc()
	var md Metadata
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, body := range bodies {
			_ = ReadOnMetaData(body, doc, &md)
		}
	}
}
