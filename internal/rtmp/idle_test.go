package rtmp

import (
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/netpoll"
)

// idleConn is a netpoll.Conn that accepts everything.
type idleConn struct{ loop netpoll.Loop }

func (c *idleConn) Write(b []byte) (int, error)     { return len(b), nil }
func (c *idleConn) Writev(bs [][]byte) (int, error) { return 0, nil }
func (c *idleConn) OutboundBuffered() int           { return 0 }
func (c *idleConn) Close() error                    { return nil }
func (c *idleConn) RemoteAddr() string              { return "127.0.0.1:1" }
func (c *idleConn) LocalPort() int                  { return 1935 }
func (c *idleConn) Loop() netpoll.EventLoop         { return &c.loop }
func (c *idleConn) ListenerKind() int               { return 0 }

// A publisher is idle only when its peer sent no media for the idle timeout.
// An overloaded loop whose cached clock fell behind used to stamp media with
// that stale time, so every publisher on it was dropped as idle at the next
// sweep (1,001 of them, the healthy one included).
func TestPublisherIdleCountsMediaNotClock(t *testing.T) {
	srv := enginetest.New(t)
	s := New(srv.Shared, &idleConn{}, 0)
	s.state = stateConnected
	s.App = &engine.App{PublisherIdle: 5 * time.Second}
	e, _, err := srv.Reg.AcquirePublish(s, "live", "cam", s.App.StreamOptions(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := &netStream{id: 1, pub: e, epoch: e.Fanout.BeginPublish()}
	s.streams = []*netStream{ns}

	t0 := time.Now()
	s.Loop.Now = t0.Add(-time.Minute) // the loop's cached clock is a minute behind
	video := []byte{0x17, 1, 0, 0, 0, 0, 0, 0, 1}
	step := func(at time.Duration, media bool) error {
		if media {
			if err := s.media(chunkcodec.TypeVideo, 1, uint32(at/time.Millisecond), video); err != nil {
				t.Fatal(err)
			}
		}
		return s.OnTick(t0.Add(at))
	}
	// Media between every sweep: never idle, whatever the cached clock says.
	for at := time.Duration(0); at <= 20*time.Second; at += 250 * time.Millisecond {
		if err := step(at, true); err != nil {
			t.Fatalf("at %v with media flowing: %v", at, err)
		}
	}
	// The peer stops: idle once the timeout has passed in sweeps without media.
	at := 20 * time.Second
	for err == nil && at < 40*time.Second {
		at += 250 * time.Millisecond
		err = step(at, false)
	}
	if err != engine.ErrPublisherIdle || at < 25*time.Second {
		t.Fatalf("after media stopped at 20s: %v at %v, want ErrPublisherIdle after 25s", err, at)
	}
	e.Fanout.Close()
}
