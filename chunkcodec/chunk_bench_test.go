package chunkcodec

import (
	"testing"
)

// ccChunkEnds returns the end offsets of the chunks AppendMessage writes for
// h and a payload of n bytes, relative to the start of the message.
func ccChunkEnds(h Header, n int, cs uint32) []int {
	bh := basicHeaderLen(h.ChunkStreamID)
	ext := 0
	if h.Timestamp >= 0xFFFFFF {
		ext = 4
	}
	var ends []int
	off := bh + 11 + ext + min(n, int(cs))
	ends = append(ends, off)
	for rest := n - min(n, int(cs)); rest > 0; {
		k := min(rest, int(cs))
		off += bh + ext + k
		rest -= k
		ends = append(ends, off)
	}
	return ends
}

// ccAVStream returns a stream like a publisher's: Set Chunk Size cs, then
// video messages of varying size (up to 64 KiB) on chunk stream 6 whose
// chunks are interleaved with 200-byte audio messages on chunk stream 4,
// which use type 1, 2 and 3 headers.
func ccAVStream(cs uint32, videos int) []byte {
	var w []byte
	if cs != DefaultChunkSize {
		w = AppendSetChunkSize(w, cs)
	}
	audio := ccPayload(200, 7)
	ats := uint32(0)
	audioN := 0
	appendAudio := func() {
		var cw ccWire
		switch {
		case audioN == 0:
			cw = cw.h0(4, ats, 200, TypeAudio, 1)
		case audioN%3 == 1:
			cw = cw.h1(4, 23, 200, TypeAudio)
		case audioN%3 == 2:
			cw = cw.h2(4, 23)
		default:
			cw = cw.h3(4)
		}
		if audioN > 0 {
			ats += 23
		}
		audioN++
		// 200 bytes in chunks of cs.
		for off := 0; off < 200; {
			if off > 0 {
				cw = cw.h3(4)
			}
			k := min(200-off, int(cs))
			cw = cw.data(audio[off : off+k])
			off += k
		}
		w = append(w, cw...)
	}
	for i := range videos {
		n := 1000 + (i*7919)%(64<<10-1000)
		if i%10 == 0 {
			n = 64 << 10
		}
		h := Header{ChunkStreamID: 6, Timestamp: uint32(i * 40), TypeID: TypeVideo, StreamID: 1}
		enc := AppendMessage(nil, h, ccPayload(n, byte(i)), cs)
		start := 0
		for j, end := range ccChunkEnds(h, n, cs) {
			w = append(w, enc[start:end]...)
			start = end
			if j%4 == 0 {
				appendAudio()
			}
		}
	}
	return w
}

// ccFeedDiscard feeds stream in reads of readSize bytes and drops the
// messages; it panics on error.
func ccFeedDiscard(d *Decoder, stream []byte, readSize int) int {
	msgs := 0
	for p := stream; len(p) > 0; {
		k := min(readSize, len(p))
		read := p[:k]
		for len(read) > 0 {
			n, m, err := d.Feed(read)
			if err != nil {
				panic(err)
			}
			if m != nil {
				msgs++
			}
			read = read[n:]
		}
		p = p[k:]
	}
	return msgs
}

// ccReadSizes are realistic socket read sizes, 16 to 64 KiB.
var ccReadSizes = [...]int{16 << 10, 48 << 10, 32 << 10, 64 << 10, 20 << 10, 40 << 10, 60 << 10, 24 << 10}

func ccBenchDecode(b *testing.B, stream []byte) {
	d := NewDecoder(DecoderConfig{Pool: NewBufferPool()})
	defer d.Release()
	ccFeedDiscard(d, stream, 64<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		p := stream
		for i := 0; len(p) > 0; i++ {
			k := min(ccReadSizes[i%len(ccReadSizes)], len(p))
			read := p[:k]
			for len(read) > 0 {
				n, _, err := d.Feed(read)
				if err != nil {
					b.Fatal(err)
				}
				read = read[n:]
			}
			p = p[k:]
		}
	}
}

// BenchmarkDecode64KVideo4096 decodes a steady stream of 64 KiB video
// messages in 4096-byte chunks, fed in 16-64 KiB reads.
func BenchmarkDecode64KVideo4096(b *testing.B) {
	var stream []byte
	stream = AppendSetChunkSize(stream, 4096)
	payload := ccPayload(64<<10, 1)
	for i := range 16 {
		stream = AppendMessage(stream, Header{ChunkStreamID: 6, Timestamp: uint32(i * 40), TypeID: TypeVideo, StreamID: 1}, payload, 4096)
	}
	ccBenchDecode(b, stream)
}

// BenchmarkDecodeAV4096 decodes interleaved audio and video of mixed sizes
// at chunk size 4096.
func BenchmarkDecodeAV4096(b *testing.B) { ccBenchDecode(b, ccAVStream(4096, 50)) }

func ccBenchDecodeAudio(b *testing.B, cs uint32) {
	var w ccWire
	if cs != DefaultChunkSize {
		w = AppendSetChunkSize(w, cs)
	}
	audio := ccPayload(200, 3)
	w = w.h0(4, 0, 200, TypeAudio, 1)
	for i := range 1000 {
		if i > 0 {
			w = w.h3(4) // type 3 new message: same length, same delta
		}
		for off := 0; off < 200; {
			if off > 0 {
				w = w.h3(4)
			}
			k := min(200-off, int(cs))
			w = w.data(audio[off : off+k])
			off += k
		}
	}
	ccBenchDecode(b, w)
}

// BenchmarkDecodeAudio200Chunk128 decodes 200-byte audio messages at the
// default chunk size (two chunks each).
func BenchmarkDecodeAudio200Chunk128(b *testing.B) { ccBenchDecodeAudio(b, 128) }

// BenchmarkDecodeAudio200Chunk4096 decodes 200-byte audio messages in one
// chunk each.
func BenchmarkDecodeAudio200Chunk4096(b *testing.B) { ccBenchDecodeAudio(b, 4096) }

func ccBenchEncode(b *testing.B, n int, cs uint32) {
	h := Header{ChunkStreamID: 6, Timestamp: 40, TypeID: TypeVideo, StreamID: 1}
	payload := ccPayload(n, 1)
	dst := make([]byte, 0, EncodedLen(h, n, cs))
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		dst = AppendMessage(dst[:0], h, payload, cs)
	}
}

// BenchmarkEncode64KVideo4096 chunks a 64 KiB video message at 4096.
func BenchmarkEncode64KVideo4096(b *testing.B) { ccBenchEncode(b, 64<<10, 4096) }

// BenchmarkEncodeAudio200Chunk128 chunks a 200-byte audio message at 128.
func BenchmarkEncodeAudio200Chunk128(b *testing.B) { ccBenchEncode(b, 200, 128) }

// BenchmarkEncodeAudio200Chunk4096 chunks a 200-byte audio message at 4096.
func BenchmarkEncodeAudio200Chunk4096(b *testing.B) { ccBenchEncode(b, 200, 4096) }

// BenchmarkDecodeCases decodes each case of the case table.
func BenchmarkDecodeCases(b *testing.B) {
	for _, c := range ccCases() {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(c.cfg)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.wire)))
			for b.Loop() {
				d.Init(c.cfg)
				p := c.wire
				for len(p) > 0 {
					n, _, err := d.Feed(p)
					if err != nil {
						break
					}
					p = p[n:]
				}
			}
		})
	}
}
