package server_test

import (
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/server"
)

// TestRTMPJoinerTimestampsFromZero: an RTMP player that joins a stream an
// hour old gets the sequence header and the frames from the cached keyframe
// stamped from 0, as HTTP-FLV and WebSocket-FLV players do, not the
// stream's age.
func TestRTMPJoinerTimestampsFromZero(t *testing.T) {
	ctx := testContext(t)
	ts := startServer(t, server.Config{}, nil)
	pub := publisher(t, ctx, ts, "live", "old", client.Config{})
	const hour = 3_600_000
	if err := pub.WriteMessage(chunkcodec.TypeVideo, hour, synthSeqHeader); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32(hour+i*40), synthVideo(i%25 == 0, 500, i)); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(5*time.Second, func() bool { return ts.publishing("live", "old") }) {
		t.Fatal("not publishing")
	}
	time.Sleep(200 * time.Millisecond)
	p := player(t, ctx, ts, "live", "old", client.Config{})
	for i := 30; i < 40; i++ {
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32(hour+i*40), synthVideo(false, 500, i)); err != nil {
			t.Fatal(err)
		}
	}
	var stamps []uint32
	_, err := readMessages(p, 5*time.Second, func(r *received) bool {
		if r.typ == chunkcodec.TypeVideo {
			stamps = append(stamps, r.ts)
		}
		return len(stamps) == 12
	})
	if err != nil {
		t.Fatalf("player: %v (got %v)", err, stamps)
	}
	// Sequence header and keyframe (frame 25) at 0, then 40 ms apart.
	for i, s := range stamps {
		want := uint32(0)
		if i > 0 {
			want = uint32((i - 1) * 40)
		}
		if s != want {
			t.Fatalf("timestamps %v, want the header and the keyframe at 0 then 40 ms steps", stamps)
		}
	}
}
