package perf

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/internal/rtmp"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// hotPath is one round of steady-state work on every hot path.
type hotPath struct {
	srv    *enginetest.Server
	pub    *rtmp.Session // the server's real RTMP session, publishing
	wire   []byte
	doc    amf0.Document
	cmd    []byte
	st     *fanout.Stream
	l      *fakeloop.Loop
	frame  []byte
	ts     uint32
	flv    []byte
	rd     flvmux.Reader
	hdr    []byte
	rec    *recorder.Recording
	recBuf [][]byte
}

func newHotPath(tb testing.TB) *hotPath {
	h := &hotPath{l: fakeloop.New(0), srv: enginetest.New(tb)}
	// A publisher's session, through the real inbound path (handshake,
	// chunks, commands), then its media: interleaved audio and video at
	// chunk size 4096.
	conn := h.srv.Attach(h.l, "127.0.0.1:9000")
	conn.Discard = true // the publisher's replies and acknowledgements
	h.pub = rtmp.New(h.srv.Shared, conn, 0)
	h.pub.SetHandshakeRand(enginetest.Zeros{})
	for _, b := range [][]byte{enginetest.Hello(), enginetest.Connect("live"), chunkcodec.AppendSetChunkSize(nil, 4096),
		enginetest.Command(0, "createStream", 2), enginetest.Command(1, "publish", 3, "demo", "live")} {
		if err := h.pub.OnData(b); err != nil {
			tb.Fatal(err)
		}
	}
	video := make([]byte, 12000)
	video[0], video[1] = 0x27, 1
	audio := make([]byte, 370)
	audio[0], audio[1] = 0xaf, 1
	for i := range 30 {
		h.wire = chunkcodec.AppendMessage(h.wire, chunkcodec.Header{ChunkStreamID: 7, Timestamp: uint32(i * 33), TypeID: 9, StreamID: 1}, video, 4096)
		h.wire = chunkcodec.AppendMessage(h.wire, chunkcodec.Header{ChunkStreamID: 6, Timestamp: uint32(i * 33), TypeID: 8, StreamID: 1}, audio, 4096)
	}
	// A play command.
	h.cmd = amf0.AppendCommandStart(nil, "play", 4)
	h.cmd = amf0.AppendNull(h.cmd)
	h.cmd = amf0.AppendString(h.cmd, "demo")
	h.cmd = amf0.AppendNumber(h.cmd, -2000)
	// Fanout: 100 subscribers of each form on the published stream.
	st, _ := h.srv.Reg.Publisher("live", "demo")
	if st == nil {
		tb.Fatal("publish refused")
	}
	h.st = st.Fanout
	key := chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 7, TypeID: 9, StreamID: 1}, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}, 4096)
	key = chunkcodec.AppendMessage(key, chunkcodec.Header{ChunkStreamID: 7, TypeID: 9, StreamID: 1}, append([]byte{0x17, 1, 0, 0, 0}, make([]byte, 5000)...), 4096)
	if err := h.pub.OnData(key); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []fanout.Format{fanout.FormatRTMP, fanout.FormatFLV, fanout.FormatWSFLV} {
		for range 100 {
			h.st.Subscribe(h.l.Fanout(), &fakeloop.Conn{L: h.l, Discard: true}, fanout.SubscriberOptions{Format: f})
		}
	}
	h.srv.Flush(h.l)
	h.frame = video
	// An FLV byte stream for the reader.
	h.flv = flvmux.AppendFileHeader(nil, true, true)
	for i := range 30 {
		h.flv = flvmux.AppendTag(h.flv, flvmux.TagVideo, uint32(i*33), video)
	}
	h.hdr = make([]byte, 0, 16)
	// A recording fed through its queue.
	m := recorder.NewManager(recorder.Config{Dir: filepath.Join(tb.TempDir(), "rec")})
	rec, err := m.Start("live", "perf")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rec.Stop(); _ = rec.Wait() })
	h.rec = rec
	// A recording receives an FLV stream: header, a keyframe, then tags.
	recKey := append([]byte{0x17, 1, 0, 0, 0}, video[5:]...)
	if _, err := rec.Writev([][]byte{flvmux.AppendFileHeader(nil, true, true), flvmux.AppendTag(nil, flvmux.TagVideo, 0, recKey)}); err != nil {
		tb.Fatal(err)
	}
	h.recBuf = [][]byte{flvmux.AppendTag(nil, flvmux.TagAudio, 0, audio)}
	return h
}

func (h *hotPath) round(tb testing.TB) {
	// 60 messages read, decoded and published by the session, and one
	// more frame published directly; then the loop's tick delivers them.
	if err := h.pub.OnData(h.wire); err != nil {
		tb.Fatal(err)
	}
	if _, err := h.doc.Decode(h.cmd); err != nil {
		tb.Fatal(err)
	}
	h.ts += 33
	h.st.Publish(9, h.ts, h.frame)
	h.srv.Flush(h.l)
	h.rd.Reset()
	for p := h.flv; len(p) > 0; {
		n, _, err := h.rd.Feed(p)
		if err != nil {
			tb.Fatal(err)
		}
		p = p[n:]
	}
	h.hdr = wsflv.AppendFrameHeader(h.hdr[:0], true, wsflv.OpBinary, 4096)
	_, _ = h.rec.Writev(h.recBuf)
}

// SteadyState matches the benchmark's per-round function: only allocations made
// under it are checked.
const SteadyState = `quaver/perf\.\(\*hotPath\)\.round$`

// BenchmarkHotPath is profiled by `make perf-check`: with -memprofilerate 1 every
// steady-state allocation is recorded, and quaverperf check-allocs fails if one
// is attributed to a hot-path function. Warm-up runs with profiling off.
func BenchmarkHotPath(b *testing.B) {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 0
	h := newHotPath(b)
	for range 5000 {
		h.round(b)
	}
	runtime.MemProfileRate = rate
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.round(b)
	}
}
