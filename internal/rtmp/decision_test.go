package rtmp

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"

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

// heldRead is how many bytes a test client hands the session per read, as
// a socket read would.
const heldRead = 64 << 10

// numberedVideo chunk-encodes a video frame of size bytes (at least 9) on
// message stream 1 whose payload carries its number i: a keyframe for
// i == 0, inter frames after.
func numberedVideo(i, size int) []byte {
	p := make([]byte, size)
	p[0], p[1] = 0x27, 1
	if i == 0 {
		p[0] = 0x17
	}
	binary.BigEndian.PutUint32(p[5:], uint32(i))
	return video(uint32(i*40), p...)
}

// videoLen is the length of numberedVideo's message of size bytes: 12
// header bytes, and one more per chunk after the first.
func videoLen(size int) int { return 11 + size + (size+127)/chunkcodec.DefaultChunkSize }

// mediaUpTo returns a sequence header and numbered frames of at most 60 KB,
// chunk-encoded at the client's chunk size, totalling limit bytes or one
// less (the last frame takes what room is left), and the number of frames.
func mediaUpTo(limit int) (b []byte, frames int) {
	b = video(0, 0x17, 0, 0, 0, 0, 1, 0x64)
	for i := 0; ; i++ {
		room := limit - len(b)
		if room < videoLen(9) {
			return b, i
		}
		size := 60000
		if room-videoLen(size) < videoLen(9) { // the last frame
			size = room - 11 - (room+127)/chunkcodec.DefaultChunkSize
			for videoLen(size+1) <= room {
				size++
			}
		}
		b = append(b, numberedVideo(i, size)...)
	}
}

// sendReads hands b to p in socket-sized reads and checks after each that
// the held bytes never take more memory than the budget; it returns how
// many bytes were handed over before the session closed (or all of them).
func sendReads(t *testing.T, p *peer, b []byte) int {
	t.Helper()
	sent := 0
	for sent < len(b) && p.err == nil {
		k := min(heldRead, len(b)-sent)
		p.send(b[sent : sent+k])
		sent += k
		if c := cap(p.port.held); c > maxHeldBytes {
			t.Fatalf("after %d bytes the held buffer takes %d bytes, over the budget of %d", sent, c, maxHeldBytes)
		}
	}
	return sent
}

// A client whose publish waits for a deferred decision may send
// maxHeldBytes meanwhile and no more. An attacker that keeps sending valid
// media is closed with a protocol error naming the budget at the read that
// passes it; the held buffer never takes more memory than the budget (its
// capacity), and the closed session drops it at once although the decision
// is still out. A publisher that sends up to the budget is served when the
// decision accepts: a waiting player gets every held frame, in order.
func TestHeldBytesBudget(t *testing.T) {
	hooks := &deferringHooks{decisions: make(chan *engine.Decision, 4)}
	srv := enginetest.New(t)
	srv.Apps["live"].Hooks = hooks
	srv.Apps["live"].VOD = false // a play of a name not yet live waits for it (no lookup off the loop)
	l := fakeloop.New(0)

	media, frames := mediaUpTo(maxHeldBytes)
	if len(media) != maxHeldBytes && len(media) != maxHeldBytes-1 {
		t.Fatalf("test media of %d bytes, want %d", len(media), maxHeldBytes)
	}

	// The attacker: the same media and one more frame.
	attacker := dialPeer(t, srv, l, "127.0.0.1:5000")
	attacker.send(connectCmd("live"))
	attacker.send(command(0, "createStream", 2))
	attacker.replies()
	attacker.send(command(1, "publish", 3, "flood", "live"))
	pending := <-hooks.decisions
	flood := slices.Concat(media, numberedVideo(frames, 60000))
	sent := sendReads(t, attacker, flood)
	switch {
	case attacker.err == nil:
		t.Fatalf("%d bytes sent while the publish waited were all taken", sent)
	case !errors.Is(attacker.err, engine.ErrProtocol) || !strings.Contains(attacker.err.Error(), strconv.Itoa(maxHeldBytes)):
		t.Fatalf("closed with %v, want a protocol error naming the budget (%d bytes)", attacker.err, maxHeldBytes)
	case sent <= maxHeldBytes || sent > maxHeldBytes+heldRead:
		t.Fatalf("closed after %d bytes, want at the read that passed %d", sent, maxHeldBytes)
	}
	if attacker.port.held != nil {
		t.Fatalf("the closed session still holds %d bytes (cap %d)", len(attacker.port.held), cap(attacker.port.held))
	}
	pending.Resolve(nil, "") // late: does nothing
	srv.Flush(l)
	if st, _ := srv.Reg.Publisher("live", "flood"); st != nil {
		t.Fatal("the closed attacker went on air")
	}
	t.Logf("attacker closed after %d bytes: %v", sent, attacker.err)

	// A player waits for cam.
	player := dialPeer(t, srv, l, "127.0.0.1:5001")
	player.send(connectCmd("live"))
	player.send(command(0, "createStream", 2))
	player.send(command(1, "play", 3, "cam"))
	(<-hooks.decisions).Resolve(nil, "")
	srv.Flush(l)
	player.replies()

	// The publisher: publish and its media back to back, up to the budget.
	pub := dialPeer(t, srv, l, "127.0.0.1:5002")
	pub.send(connectCmd("live"))
	pub.send(command(0, "createStream", 2))
	pub.replies()
	publish := command(1, "publish", 3, "cam", "live")
	sendReads(t, pub, slices.Concat(publish, media))
	if pub.err != nil {
		t.Fatalf("publisher within the budget closed: %v", pub.err)
	}
	if got := len(pub.port.held); got != len(media) {
		t.Fatalf("held %d bytes, want the %d sent after publish", got, len(media))
	}
	if got := pub.replies(); len(got) != 0 {
		t.Fatalf("replies before the decision: %q", got)
	}
	d := <-hooks.decisions
	done := make(chan struct{})
	go func() { d.Resolve(nil, ""); close(done) }()
	<-done
	srv.Flush(l)
	if got := pub.replies(); !slices.Contains(got, "onStatus NetStream.Publish.Start") {
		t.Fatalf("after accepting: %q", got)
	}
	if pub.err != nil || pub.port.held != nil {
		t.Fatalf("after accepting: err %v, %d bytes still held", pub.err, len(pub.port.held))
	}

	// Every frame reaches the player, in order.
	next := 0
	var ts0 uint32
	for range 64 {
		out := player.conn.Take()
		for len(out) > 0 {
			n, m, err := player.dec.Feed(out)
			out = out[n:]
			if err != nil {
				t.Fatalf("player: %v", err)
			}
			if m == nil || m.TypeID != chunkcodec.TypeVideo || len(m.Payload) < 9 || m.Payload[1] != 1 {
				continue
			}
			i := int(binary.BigEndian.Uint32(m.Payload[5:]))
			if next == 0 {
				ts0 = m.Timestamp
			}
			if i != next || m.Timestamp-ts0 != uint32(i*40) {
				t.Fatalf("player got frame %d at %d ms, want frame %d at %d ms", i, m.Timestamp-ts0, next, next*40)
			}
			next++
		}
		if next == frames {
			break
		}
		srv.Flush(l)
	}
	if next != frames {
		t.Fatalf("player got %d of %d held frames", next, frames)
	}
	t.Logf("publisher held %d bytes, %d frames, all played in order", len(media), frames)
	player.port.OnClose(nil)
	pub.port.OnClose(nil)
}
