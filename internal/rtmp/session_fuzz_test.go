package rtmp

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// FuzzSession drives the real RTMP session (handshake done, then arbitrary
// chunk bytes) through its transport port on a fake connection. Properties:
// no panic; the same bytes in any split give the same replies and the same
// reason to close (split invariance); a closed connection leaves no stream
// and no connection slot behind.
func FuzzSession(f *testing.F) {
	seeds := [][]byte{
		connectCmd("live"),
		append(connectCmd("live"), command(0, "createStream", 2)...),
		join(connectCmd("live"), command(0, "createStream", 2), command(1, "publish", 3, "cam", "live")),
		join(connectCmd("live"), command(0, "createStream", 2), command(1, "play", 3, "cam"), command(1, "pause", 4, true, 0), command(0, "deleteStream", 5, 1)),
		join(connectCmd("live"), command(0, "getStreamLength", 2, "x.flv"), command(0, "whatever", 3, 1.5, "s")),
		command(0, "createStream", 2),
	}
	for _, s := range seeds {
		f.Add(s, uint64(0x9e3779b97f4a7c15))
	}
	srv := enginetest.New(f) // no "record" app: no recordings (files, writer goroutines) from the fuzzer
	l := fakeloop.New(0)
	run := func(data []byte, splits uint64) ([]string, error) {
		p := dialPeer(f, srv, l, "127.0.0.1:5000")
		for len(data) > 0 && p.err == nil {
			n := len(data)
			if splits != 0 {
				n = 1 + int(splits%uint64(len(data)))
				splits = splits*6364136223846793005 + 1442695040888963407
			}
			p.send(data[:n])
			data = data[n:]
		}
		replies := p.replies()
		err := p.err
		if err == nil {
			p.port.OnClose(nil)
		}
		srv.Reg.Sweep(time.Now().Add(time.Second))
		return replies, err
	}
	f.Fuzz(func(t *testing.T, data []byte, splits uint64) {
		whole, errWhole := run(data, 0)
		split, errSplit := run(data, splits|1)
		if !slices.Equal(whole, split) {
			t.Fatalf("replies differ with the split:\n whole %q\n split %q", whole, split)
		}
		if (errWhole == nil) != (errSplit == nil) || (errWhole != nil && errors.Unwrap(errWhole) != nil && !errors.Is(errSplit, errors.Unwrap(errWhole)) && errWhole.Error() != errSplit.Error()) {
			t.Fatalf("closed differently: whole %v, split %v", errWhole, errSplit)
		}
		if n, _ := srv.Reg.Counts(); n != 0 {
			t.Fatalf("%d streams left behind", n)
		}
		if srv.Open != 0 {
			t.Fatalf("%d connection slots left behind", srv.Open)
		}
	})
}

func join(parts ...[]byte) []byte { return slices.Concat(parts...) }
