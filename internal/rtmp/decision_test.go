package rtmp

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/enginetest"
	"github.com/quaverlive/quaver/internal/fakeloop"
)

// deferringHooks defers every publish and play; the test resolves them.
type deferringHooks struct {
	engine.AcceptAll
	decisions chan *engine.Decision
}

func (h *deferringHooks) OnPublish(s *engine.Session, req *engine.StreamRequest) error {
	h.decisions <- s.Defer(time.Second)
	return engine.ErrPending
}

func (h *deferringHooks) OnPlay(s *engine.Session, req *engine.StreamRequest) error {
	h.decisions <- s.Defer(time.Second)
	return engine.ErrPending
}

// A deferred publish holds the step and the media that follows it, then
// goes on air when the decision (from another goroutine) accepts it, under
// the name the decision gives; a refusal answers with its reason; no
// decision refuses at the deadline.
func TestDeferredDecisions(t *testing.T) {
	hooks := &deferringHooks{decisions: make(chan *engine.Decision, 4)}
	srv := enginetest.New(t)
	srv.Apps["live"].Hooks = hooks
	l := fakeloop.New(0)

	pub := dialPeer(t, srv, l, "127.0.0.1:5000")
	pub.send(connectCmd("live"))
	pub.send(command(0, "createStream", 2))
	pub.replies()
	// publish and its first media in one read: the media waits with it.
	pub.send(slices.Concat(command(1, "publish", 3, "cam", "live"), video(0, 0x17, 0, 0, 0, 0, 1, 0x64), video(40, 0x17, 1, 0, 0, 0, 0xaa)))
	if got := pub.replies(); len(got) != 0 {
		t.Fatalf("replies before the decision: %q", got)
	}
	d := <-hooks.decisions
	done := make(chan struct{})
	go func() { d.Resolve(nil, "renamed"); close(done) }()
	<-done
	srv.Flush(l)
	if got, want := pub.replies(), []string{"user-control stream-begin", "onStatus NetStream.Publish.Start"}; !slices.Equal(got, want) {
		t.Fatalf("after accepting: %q, want %q", got, want)
	}
	st, _ := srv.Reg.Publisher("live", "renamed")
	if st == nil || !st.Fanout.HasVideo() {
		t.Fatal("the held media did not reach the renamed stream")
	}
	d.Resolve(errors.New("too late"), "") // a second answer does nothing
	srv.Flush(l)
	if pub.err != nil {
		t.Fatalf("publisher closed: %v", pub.err)
	}

	player := dialPeer(t, srv, l, "127.0.0.1:5001")
	player.send(connectCmd("live"))
	player.send(command(0, "createStream", 2))
	player.send(command(1, "play", 3, "renamed"))
	player.replies()
	(<-hooks.decisions).Resolve(errors.New("not for you"), "")
	srv.Flush(l)
	if got := player.replies(); !slices.Equal(got, []string{"onStatus NetStream.Play.Failed"}) {
		t.Fatalf("refused play: %q", got)
	}
	if !player.conn.Closed {
		t.Fatal("refused player left open")
	}
	player.port.OnClose(nil)

	late := dialPeer(t, srv, l, "127.0.0.1:5002")
	late.send(connectCmd("live"))
	late.send(command(0, "createStream", 2))
	late.send(command(1, "play", 3, "renamed"))
	late.replies()
	<-hooks.decisions // never answered
	if err := late.port.OnTick(time.Now().Add(2 * time.Second)); err == nil {
		late.port.OnClose(nil)
		t.Fatal("no decision by the deadline left the play open")
	}
	if got := late.replies(); !slices.Equal(got, []string{"onStatus NetStream.Play.Failed"}) {
		t.Fatalf("play past the deadline: %q", got)
	}
	late.port.OnClose(nil)
	pub.port.OnClose(nil)
}
