package rtmp

import (
	"slices"
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// deferConn is a connection whose reads can be deferred, recording each call.
type deferConn struct {
	*fakeloop.Conn
	calls []bool
}

func (c *deferConn) DeferReads(on bool) error { c.calls = append(c.calls, on); return nil }

// TestPublisherReadsDeferred: with DeferPublisherReads, publishing turns the
// connection's deferred reads on, and they stay on until its last publishing
// stream ends, after which its commands are read at once again.
func TestPublisherReadsDeferred(t *testing.T) {
	srv := enginetest.New(t)
	srv.Shared.Limits.DeferPublisherReads = true
	l := fakeloop.New(0)
	c := &deferConn{Conn: srv.Attach(l, "127.0.0.1:5000")}
	p := &peer{t: t, srv: srv, loop: l, conn: c.Conn, dec: chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})}
	p.port = New(srv.Shared, c, 0)
	p.port.SetHandshakeRand(enginetest.Zeros{})
	p.send(enginetest.Hello())
	p.send(connectCmd("live"))
	p.send(command(0, "createStream", 2))
	p.send(command(0, "createStream", 3))
	if len(c.calls) != 0 {
		t.Fatalf("deferral before any publish: %v", c.calls)
	}
	p.send(command(1, "publish", 4, "a", "live"))
	p.send(command(2, "publish", 5, "b", "live"))
	p.send(command(0, "deleteStream", 6, 1.0))
	if !slices.Equal(c.calls, []bool{true, true}) || p.err != nil {
		t.Fatalf("two publishes, one ended: DeferReads calls %v (err %v)", c.calls, p.err)
	}
	p.send(command(0, "deleteStream", 7, 2.0))
	if !slices.Equal(c.calls, []bool{true, true, false}) {
		t.Fatalf("both publishes ended: DeferReads calls %v", c.calls)
	}
}
