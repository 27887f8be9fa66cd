package bench

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// BenchmarkFanoutDeliver: one 4 KB video frame published and delivered to N
// subscribers; ns/op and B/s are per delivery (one subscriber), allocs/op must be 0.
func BenchmarkFanoutDeliver(b *testing.B) {
	for _, f := range []struct {
		name   string
		format fanout.Format
	}{{"rtmp", fanout.FormatRTMP}, {"httpflv", fanout.FormatFLV}, {"wsflv", fanout.FormatWSFLV}} {
		for _, n := range []int{1, 100, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/subs=%d", f.name, n), func(b *testing.B) {
				l := fakeloop.New(0)
				hub := fanout.NewHub(fanout.Config{Loops: 1})
				hub.AttachLoop(l.Fanout())
				st := hub.NewStream(fanout.StreamOptions{GOPCache: true})
				st.BeginPublish()
				st.Publish(9, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f})
				st.Publish(9, 0, []byte{0x17, 1, 0, 0, 0})
				for range n {
					st.Subscribe(l.Fanout(), &fakeloop.Conn{L: l, Discard: true}, fanout.SubscriberOptions{Format: f.format})
				}
				l.Run()
				frame := make([]byte, 4000)
				frame[0], frame[1] = 0x27, 1
				ts := uint32(0)
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; done += n {
					ts += 33
					st.Publish(9, ts, frame)
					l.Run()
				}
			})
		}
	}
}

// BenchmarkFLVTagDemux parses a stream of 64 KiB video tags with the push reader.
func BenchmarkFLVTagDemux(b *testing.B) {
	p := make([]byte, 64<<10)
	p[0], p[1] = 0x27, 1
	stream := flvmux.AppendFileHeader(nil, true, true)
	for i := range 16 {
		stream = flvmux.AppendTag(stream, flvmux.TagVideo, uint32(i*33), p)
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	var r flvmux.Reader
	for b.Loop() {
		r.Reset()
		for q := stream; len(q) > 0; {
			n, _, err := r.Feed(q)
			if err != nil {
				b.Fatal(err)
			}
			q = q[n:]
		}
	}
}

// BenchmarkAMF0EncodeResult encodes a connect _result and an onStatus.
func BenchmarkAMF0EncodeResult(b *testing.B) {
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		dst = amf0.AppendCommandStart(dst[:0], "_result", 1)
		dst = amf0.AppendObjectStart(dst)
		dst = amf0.AppendPropString(dst, "fmsVer", "FMS/3,5,7,7009")
		dst = amf0.AppendPropNumber(dst, "capabilities", 31)
		dst = amf0.AppendObjectEnd(dst)
		dst = amf0.AppendOnStatus(dst, 0, "status", "NetStream.Play.Start", "Started playing demo.")
	}
	b.SetBytes(int64(len(dst)))
}

// BenchmarkWSFramePrefix writes the header of a WebSocket frame carrying a 4 KiB tag.
func BenchmarkWSFramePrefix(b *testing.B) {
	dst := make([]byte, 0, wsflv.MaxFrameHeader)
	b.ReportAllocs()
	for b.Loop() {
		dst = wsflv.AppendFrameHeader(dst[:0], true, wsflv.OpBinary, 4096)
	}
}

// BenchmarkRecorderWrite pushes FLV tags through a recording's queue to a file;
// B/s is what the recorder sustains (queue copy on the loop, file write off it).
func BenchmarkRecorderWrite(b *testing.B) {
	m := recorder.NewManager(recorder.Config{Dir: filepath.Join(b.TempDir(), "rec"), MaxQueueBytes: 256 << 20})
	rec, err := m.Start("live", "bench")
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 16<<10)
	p[0], p[1] = 0x17, 1
	head := [][]byte{flvmux.AppendFileHeader(nil, true, true), flvmux.AppendTag(nil, flvmux.TagVideo, 0, p)}
	if _, err := rec.Writev(head); err != nil {
		b.Fatal(err)
	}
	p[0] = 0x27
	tag := [][]byte{flvmux.AppendTag(nil, flvmux.TagVideo, 33, p)}
	b.SetBytes(int64(len(tag[0])))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rec.Writev(tag); err != nil {
			b.Fatal(err)
		}
	}
	rec.Stop()
	if err := rec.Wait(); err != nil {
		b.Fatal(err)
	}
}
