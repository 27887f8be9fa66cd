package bench

import (
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// videoStream returns n 64 KiB video messages chunked at 4096 bytes, back to back,
// preceded by the Set Chunk Size that announces it.
func videoStream(n int) (wire []byte, payload int) {
	p := make([]byte, 64<<10)
	p[0], p[1] = 0x27, 1
	wire = chunkcodec.AppendSetChunkSize(nil, 4096)
	for i := range n {
		wire = chunkcodec.AppendMessage(wire, chunkcodec.Header{
			ChunkStreamID: 7, Timestamp: uint32(i * 33), TypeID: chunkcodec.TypeVideo, StreamID: 1,
		}, p, 4096)
	}
	return wire, len(p)
}

// BenchmarkChunkDecode64KVideo is the headline: 64 KiB video messages in
// 4096-byte chunks, fed in 64 KiB reads as a socket would deliver them.
func BenchmarkChunkDecode64KVideo(b *testing.B) {
	wire, _ := videoStream(16)
	ctl := chunkcodec.AppendSetChunkSize(nil, 4096)
	body := wire[len(ctl):]
	d := chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})
	feed := func(p []byte) {
		for len(p) > 0 {
			n, _, err := d.Feed(p)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
	feed(ctl)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		for p := body; len(p) > 0; {
			k := min(len(p), 64<<10)
			feed(p[:k])
			p = p[k:]
		}
	}
}

// BenchmarkChunkEncode64KVideo encodes one 64 KiB video message at chunk size 4096.
func BenchmarkChunkEncode64KVideo(b *testing.B) {
	p := make([]byte, 64<<10)
	h := chunkcodec.Header{ChunkStreamID: 7, TypeID: chunkcodec.TypeVideo, StreamID: 1}
	dst := make([]byte, 0, chunkcodec.EncodedLen(h, len(p), 4096)+len(p))
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		dst = chunkcodec.AppendMessage(dst[:0], h, p, 4096)
	}
}

// BenchmarkAMF0Connect decodes an ffmpeg-style connect command and reads its fields.
func BenchmarkAMF0Connect(b *testing.B) {
	body := amf0.AppendCommandStart(nil, "connect", 1)
	body = amf0.AppendObjectStart(body)
	body = amf0.AppendPropString(body, "app", "live")
	body = amf0.AppendPropString(body, "flashVer", "FMLE/3.0 (compatible; FMSc/1.0)")
	body = amf0.AppendPropString(body, "tcUrl", "rtmp://127.0.0.1:1935/live")
	body = amf0.AppendPropString(body, "type", "nonprivate")
	body = amf0.AppendPropNumber(body, "objectEncoding", 0)
	body = amf0.AppendObjectEnd(body)
	var doc amf0.Document
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := doc.Decode(body); err != nil {
			b.Fatal(err)
		}
		if doc.At(2).Get("app").Len() < 0 {
			b.Fatal()
		}
	}
}

// BenchmarkFLVTagMux appends a 64 KiB video tag.
func BenchmarkFLVTagMux(b *testing.B) {
	p := make([]byte, 64<<10)
	dst := make([]byte, 0, len(p)+32)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		dst = flvmux.AppendTag(dst[:0], flvmux.TagVideo, 1234, p)
	}
}
