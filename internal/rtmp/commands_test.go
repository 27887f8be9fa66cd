package rtmp

import (
	"errors"
	"slices"
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// The RTMP commands, one row each: the client's bytes after the handshake and
// what the session answers (decoded: command name and status code, or the
// message kind), and whether it closes the connection.
func TestCommands(t *testing.T) {
	connect := []string{"window-ack-size", "set-peer-bandwidth", "set-chunk-size", "_result NetConnection.Connect.Success"}
	cases := []struct {
		name   string
		in     [][]byte
		want   []string
		closes error // nil: the connection stays open
	}{
		{"connect", [][]byte{connectCmd("live")}, connect, nil},
		{"connect to an unknown app", [][]byte{connectCmd("nope")}, []string{"_error NetConnection.Connect.Rejected"}, engine.ErrUnknownApp},
		{"command before connect", [][]byte{command(0, "createStream", 2)}, nil, engine.ErrProtocol},
		{"connect twice", [][]byte{connectCmd("live"), connectCmd("live")}, append(slices.Clone(connect), "_error NetConnection.Call.Failed"), nil},
		{"createStream", [][]byte{connectCmd("live"), command(0, "createStream", 2)}, append(slices.Clone(connect), "_result 1"), nil},
		{"publish", [][]byte{connectCmd("live"), command(0, "releaseStream", 2, "cam"), command(0, "FCPublish", 3, "cam"), command(0, "createStream", 4), command(1, "publish", 5, "cam", "live")},
			append(slices.Clone(connect), "_result", "onFCPublish NetStream.Publish.Start", "_result", "_result 1", "user-control stream-begin", "onStatus NetStream.Publish.Start"), nil},
		{"publish without a name", [][]byte{connectCmd("live"), command(0, "createStream", 2), command(1, "publish", 3, "")},
			append(slices.Clone(connect), "_result 1", "onStatus NetStream.Publish.BadName"), engine.ErrProtocol},
		{"publish a name that climbs", [][]byte{connectCmd("live"), command(0, "createStream", 2), command(1, "publish", 3, "../x")},
			append(slices.Clone(connect), "_result 1", "onStatus NetStream.Publish.BadName"), engine.ErrProtocol},
		{"play a name nobody publishes (waits)", [][]byte{connectCmd("live"), command(0, "createStream", 2), command(1, "play", 3, "cam")},
			append(slices.Clone(connect), "_result 1", "user-control stream-is-recorded", "user-control stream-begin", "onStatus NetStream.Play.Reset", "onStatus NetStream.Play.Start", "|RtmpSampleAccess"), nil},
		{"getStreamLength of an unknown name", [][]byte{connectCmd("live"), command(0, "getStreamLength", 2, "cam")}, append(slices.Clone(connect), "_result 0"), nil},
		{"unknown command", [][]byte{connectCmd("live"), command(0, "noSuchThing", 2)}, append(slices.Clone(connect), "_error NetConnection.Call.Failed"), nil},
		{"seek on a live play", [][]byte{connectCmd("live"), command(0, "createStream", 2), command(1, "seek", 0, 1000)},
			append(slices.Clone(connect), "_result 1", "onStatus NetStream.Seek.Failed"), nil},
		{"ping", [][]byte{connectCmd("live"), chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 2, TypeID: chunkcodec.TypeUserControl}, []byte{0, 6, 0, 0, 0, 7}, 128)},
			append(slices.Clone(connect), "user-control ping-response"), nil},
		{"too many streams", [][]byte{connectCmd("live"), command(0, "createStream", 2), command(0, "createStream", 3), command(0, "createStream", 4)},
			append(slices.Clone(connect), "_result 1", "_result 2", "_error NetConnection.Call.Failed"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := enginetest.New(t)
			srv.Limits.MaxStreamsPerConn = 2
			p := dialPeer(t, srv, fakeloop.New(0), "127.0.0.1:5000")
			for _, b := range c.in {
				p.send(b)
			}
			if got := p.replies(); !slices.Equal(got, c.want) {
				t.Errorf("replies:\n got  %q\n want %q", got, c.want)
			}
			switch {
			case c.closes == nil && p.err != nil:
				t.Errorf("closed: %v", p.err)
			case c.closes != nil && !errors.Is(p.err, c.closes):
				t.Errorf("closed with %v, want %v", p.err, c.closes)
			}
			if p.err == nil {
				p.port.OnClose(nil)
			}
			if n, _ := srv.Reg.Counts(); n > 1 {
				t.Errorf("%d streams left after the connection closed", n)
			}
		})
	}
}
