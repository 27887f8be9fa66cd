package recorder

import (
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// BenchmarkRecorderWrite measures FLV bytes per second through Recording.Writev
// to a file in b.TempDir(), the writer goroutine included: the loop side waits
// whenever the queue holds more than 8 MiB, and the time to finish the file
// counts.
func BenchmarkRecorderWrite(b *testing.B) {
	m := NewManager(Config{Dir: b.TempDir(), Logger: quietLogger(), MaxQueueBytes: 64 << 20})
	r, err := m.Start("app", "bench")
	if err != nil {
		b.Fatal(err)
	}
	feed(b, r, synthStream(1000), true)
	// A GOP-like mix: one keyframe, then inter frames and audio.
	var frames [][]byte
	ts := uint32(1000)
	for i := range synthGOP {
		size := synthInterSize * 10
		if i == 0 {
			size = synthKeySize * 20
		}
		frames = append(frames, flvmux.AppendTag(nil, flvmux.TagVideo, ts, synthVideo(i == 0, size, i)))
		frames = append(frames, flvmux.AppendTag(nil, flvmux.TagAudio, ts, synthAudio(synthAudioSize, i)))
		ts += synthFrameMs
	}
	var total int
	for _, f := range frames {
		total += len(f)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	bufs := make([][]byte, 1)
	for b.Loop() {
		for _, f := range frames {
			bufs[0] = f
			if _, err := r.Writev(bufs); err != nil {
				b.Fatal(err)
			}
		}
		for {
			r.mu.Lock()
			n := len(r.q)
			r.mu.Unlock()
			if n < 8<<20 {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	r.Stop()
	if err := r.Wait(); err != nil {
		b.Fatal(err)
	}
}
