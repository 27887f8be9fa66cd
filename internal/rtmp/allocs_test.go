//go:build !race

package rtmp

import (
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// The inbound hot path allocates nothing in steady state: a publisher's
// video message read by its session (OnData), published into the fanout and
// delivered to a player session on the same loop (the flush task).
func TestAllocsOnDataPublishFlush(t *testing.T) {
	srv := enginetest.New(t)
	l := fakeloop.New(0)
	pub := dialPeer(t, srv, l, "127.0.0.1:5000")
	pub.send(connectCmd("live"))
	pub.send(chunkcodec.AppendSetChunkSize(nil, 4096))
	pub.send(command(0, "createStream", 2))
	pub.send(command(1, "publish", 3, "cam", "live"))
	player := dialPeer(t, srv, l, "127.0.0.1:5001")
	player.send(connectCmd("live"))
	player.send(command(0, "createStream", 2))
	player.send(command(1, "play", 3, "cam"))
	if pub.err != nil || player.err != nil {
		t.Fatalf("set-up: %v %v", pub.err, player.err)
	}
	pub.conn.Discard, player.conn.Discard = true, true

	// Steady state: a keyframe every 25 frames, and 8 GOPs before measuring,
	// so the ring recycles its packets.
	const warm, runs = 200, 200
	frames := make([][]byte, warm+runs+2)
	payload := make([]byte, 4000)
	payload[1] = 1 // AVC NALU
	for i := range frames {
		payload[0] = 0x27 // inter frame
		if i%25 == 0 {
			payload[0] = 0x17 // keyframe
		}
		frames[i] = chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 6, Timestamp: uint32(i * 40), TypeID: chunkcodec.TypeVideo, StreamID: 1, Length: uint32(len(payload))}, payload, 4096)
	}
	for _, f := range frames[:warm] {
		pub.send(f)
	}
	before := player.conn.Written
	i := warm
	allocs := testing.AllocsPerRun(runs, func() {
		pub.send(frames[i])
		i++
	})
	if pub.err != nil || player.err != nil {
		t.Fatalf("closed: %v %v", pub.err, player.err)
	}
	if player.conn.Written-before < runs*len(payload) {
		t.Fatalf("player got %d bytes for %d frames", player.conn.Written-before, runs)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per published and delivered message", allocs)
	}
}
