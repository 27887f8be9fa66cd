package rtmp

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// video chunk-encodes a video message of a publisher on message stream 1.
func video(ts uint32, payload ...byte) []byte {
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 6, Timestamp: ts, TypeID: chunkcodec.TypeVideo, StreamID: 1}, payload, chunkcodec.DefaultChunkSize)
}

// publishPeer connects, publishes cam and sends a sequence header and a
// keyframe stamped from ts.
func publishPeer(t *testing.T, srv *enginetest.Server, l *fakeloop.Loop, remote string, ts uint32) *peer {
	p := dialPeer(t, srv, l, remote)
	p.send(connectCmd("live"))
	p.send(command(0, "createStream", 2))
	p.send(command(1, "publish", 3, "cam", "live"))
	p.send(video(ts, 0x17, 0, 0, 0, 0, 1, 0x64))
	p.send(video(ts+40, 0x17, 1, 0, 0, 0, 0xaa))
	if p.err != nil {
		t.Fatalf("publish from %s: %v", remote, p.err)
	}
	p.replies()
	return p
}

// A player stays attached when its publisher leaves: it hears nothing until
// the next publisher of the name, then that publisher's notice, sequence
// header and frames; once a publisher has been gone for the grace, the
// player receives the end of stream.
func TestPlayersWaitForTheNextPublisher(t *testing.T) {
	srv := enginetest.New(t)
	l := fakeloop.New(0)
	a := publishPeer(t, srv, l, "127.0.0.1:5000", 1000)
	player := dialPeer(t, srv, l, "127.0.0.1:5001")
	player.send(connectCmd("live"))
	player.send(command(0, "createStream", 2))
	player.send(command(1, "play", 3, "cam"))
	player.replies()

	a.port.OnClose(nil) // the encoder's connection drops
	srv.Flush(l)
	srv.Reg.Sweep(time.Now()) // within the grace
	srv.Flush(l)
	if got := player.replies(); len(got) != 0 {
		t.Fatalf("player got %q when its publisher left", got)
	}

	b := publishPeer(t, srv, l, "127.0.0.1:5002", 0)
	got := player.replies()
	want := []string{"user-control stream-begin", "onStatus NetStream.Play.PublishNotify", "type 9", "type 9"}
	if !slices.Equal(got, want) {
		t.Fatalf("player after the republish: %q, want %q", got, want)
	}
	if player.err != nil {
		t.Fatalf("player closed: %v", player.err)
	}

	b.port.OnClose(nil)
	srv.Flush(l)
	srv.Reg.Sweep(time.Now().Add(time.Hour)) // past the grace
	srv.Flush(l)
	got = player.replies()
	if len(got) != 2 || !strings.Contains(got[0], "UnpublishNotify") || got[1] != "user-control stream-eof" {
		t.Fatalf("player past the grace: %q, want the end of stream", got)
	}
	player.port.OnClose(nil)
}
