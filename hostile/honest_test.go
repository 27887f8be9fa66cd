package hostile

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
)

// Honest traffic: one publisher and its viewers, all from 127.0.0.1.
const (
	honestStream      = "honest"
	honestRTMPViewers = 3
	honestDialBound   = 5 * time.Second // dial + play of one honest client
	// warmFrames: before the baseline, every viewer has received this many frames.
	warmFrames = honestFPS
	warmBound  = 10 * time.Second
)

// localhost is where honest traffic comes from.
var localhost = net.IPv4(127, 0, 0, 1)

// honestConfig is the client configuration of honest RTMP clients.
func honestConfig() client.Config {
	return client.Config{
		HandshakeTimeout: honestDialBound,
		Timeout:          honestDialBound,
		Dialer:           &net.Dialer{LocalAddr: &net.TCPAddr{IP: localhost}},
	}
}

// publisher publishes synthetic media at honestFPS until stopped or maxFrames.
type publisher struct {
	c      *client.Conn
	frames atomic.Int64 // coded video frames written; the next frame's sequence number
	gone   atomic.Bool  // the server closed the connection, or a write failed
	mu     sync.Mutex
	err    error
	stop   chan struct{}
	done   chan struct{}
}

func (p *publisher) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.gone.Store(true)
}

// Err returns why the publisher is gone, or nil.
func (p *publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// startPublisher publishes name from 127.0.0.1; cleanup stops it.
func startPublisher(t *testing.T, d *rtmpd, name string) *publisher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), honestDialBound)
	defer cancel()
	c, err := client.Dial(ctx, d.rtmpURL(name), honestConfig())
	if err != nil {
		t.Fatalf("honest publisher: dial: %v", err)
	}
	if err := c.Publish(ctx, name); err != nil {
		_ = c.Close()
		t.Fatalf("honest publisher: publish: %v", err)
	}
	p := &publisher{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	// The one reader: acknowledgements and pings are answered inside
	// ReadMessage; an error means the server dropped the publisher.
	go func() {
		for {
			if _, err := c.ReadMessage(); err != nil {
				select {
				case <-p.stop:
				default:
					p.fail(fmt.Errorf("publisher connection ended: %w", err))
				}
				return
			}
		}
	}()
	go p.run()
	t.Cleanup(func() {
		close(p.stop)
		<-p.done
		_ = c.Close()
	})
	return p
}

func (p *publisher) run() {
	defer close(p.done)
	c := p.c
	if err := c.WriteMessage(chunkcodec.TypeVideo, 0, videoSeqHeader); err != nil {
		p.fail(err)
		return
	}
	if err := c.WriteMessage(chunkcodec.TypeAudio, 0, audioSeqHeader); err != nil {
		p.fail(err)
		return
	}
	frame := time.Second / honestFPS
	start := time.Now()
	var v, a []byte
	for i := 0; i < maxFrames; i++ {
		if d := time.Until(start.Add(time.Duration(i) * frame)); d > 0 {
			select {
			case <-p.stop:
				return
			case <-time.After(d):
			}
		}
		select {
		case <-p.stop:
			return
		default:
		}
		ts := uint32(i * 1000 / honestFPS)
		v = appendVideo(v[:0], i%honestGOP == 0, uint32(i), honestFrameBytes, nil)
		a = appendAudio(a[:0], honestAudioBytes)
		if err := c.WriteMessage(chunkcodec.TypeVideo, ts, v); err != nil {
			p.fail(err)
			return
		}
		p.frames.Store(int64(i + 1))
		if err := c.WriteMessage(chunkcodec.TypeAudio, ts, a); err != nil {
			p.fail(err)
			return
		}
	}
}

// viewer counts the coded video frames it receives, by sequence number.
type viewer struct {
	name string
	mu   sync.Mutex
	seen []bool // by sequence number
	n    int    // frames received
	last time.Time
	gap  time.Duration // largest gap between frames since resetGap
	top  int64         // highest sequence number seen, -1 before any
	err  error         // why it ended; nil while connected
	stop func()        // closes the connection
}

func newViewer(name string) *viewer {
	return &viewer{name: name, seen: make([]bool, maxFrames), top: -1}
}

func (v *viewer) frame(payload []byte) {
	seq, ok := frameSeq(payload)
	if !ok || seq >= maxFrames {
		return
	}
	now := time.Now()
	v.mu.Lock()
	v.seen[seq] = true
	v.n++
	if !v.last.IsZero() {
		v.gap = max(v.gap, now.Sub(v.last))
	}
	v.last = now
	v.top = max(v.top, int64(seq))
	v.mu.Unlock()
}

func (v *viewer) end(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
}

// Received returns the frames received so far.
func (v *viewer) Received() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

// Err returns why the viewer ended, or nil while it is connected.
func (v *viewer) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// resetGap starts gap measurement at the start of an attack window: the
// first gap runs from now to the next frame.
func (v *viewer) resetGap() {
	v.mu.Lock()
	v.gap, v.last = 0, time.Now()
	v.mu.Unlock()
}

// window returns the share of frames [from, to) received, the largest gap
// (counting the one still open at end) and the highest sequence number seen.
func (v *viewer) window(from, to int64, end time.Time) (keep float64, gap time.Duration, top int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	gap = v.gap
	if !v.last.IsZero() && end.After(v.last) {
		gap = max(gap, end.Sub(v.last))
	}
	if to <= from {
		return 1, gap, v.top
	}
	got := 0
	for s := from; s < to && s < maxFrames; s++ {
		if v.seen[s] {
			got++
		}
	}
	return float64(got) / float64(to-from), gap, v.top
}

// startRTMPViewer plays name over RTMP from 127.0.0.1; cleanup closes it.
func startRTMPViewer(t *testing.T, d *rtmpd, name, label string) (*viewer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), honestDialBound)
	defer cancel()
	c, err := client.Dial(ctx, d.rtmpURL(name), honestConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", label, err)
	}
	if err := c.Play(ctx, name); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: play: %w", label, err)
	}
	v := newViewer(label)
	v.stop = func() { _ = c.Close() }
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				v.end(err)
				return
			}
			if m.TypeID == chunkcodec.TypeVideo {
				v.frame(m.Payload)
			}
		}
	}()
	t.Cleanup(func() { v.stop(); <-done })
	return v, nil
}

// startFLVViewer plays name over HTTP-FLV from 127.0.0.1 with net/http.
func startFLVViewer(t *testing.T, d *rtmpd, name, label string) (*viewer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, honestDialBound)
	defer dcancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.httpAddr+"/live/"+name+".flv", nil)
	// Response headers within the dial bound; the body for as long as it lasts.
	type result struct {
		resp *http.Response
		err  error
	}
	rc := make(chan result, 1)
	go func() { r, err := honestHTTP.Do(req); rc <- result{r, err} }()
	var resp *http.Response
	select {
	case r := <-rc:
		if r.err != nil {
			cancel()
			return nil, fmt.Errorf("%s: GET: %w", label, r.err)
		}
		resp = r.resp
	case <-dctx.Done():
		cancel()
		return nil, fmt.Errorf("%s: GET: no response within %v", label, honestDialBound)
	}
	if resp.StatusCode != 200 {
		_ = resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: GET: %s", label, resp.Status)
	}
	v := newViewer(label)
	v.stop = func() { cancel(); _ = resp.Body.Close() }
	done := make(chan struct{})
	go func() {
		defer close(done)
		var r flvmux.Reader
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			p := buf[:n]
			for len(p) > 0 {
				k, tag, ferr := r.Feed(p)
				if ferr != nil {
					v.end(fmt.Errorf("flv: %w", ferr))
					return
				}
				p = p[k:]
				if tag != nil && tag.Type == flvmux.TagVideo {
					v.frame(tag.Data)
				}
			}
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				v.end(err)
				return
			}
		}
	}()
	t.Cleanup(func() { v.stop(); <-done })
	return v, nil
}

// honest is the honest publisher and its viewers.
type honest struct {
	pub     *publisher
	viewers []*viewer
}

// startHonest publishes honestStream and attaches honestRTMPViewers RTMP
// viewers and one HTTP-FLV viewer, then waits until every viewer has received
// warmFrames frames.
func startHonest(t *testing.T, d *rtmpd) *honest {
	t.Helper()
	h := &honest{pub: startPublisher(t, d, honestStream)}
	for i := range honestRTMPViewers {
		v, err := startRTMPViewer(t, d, honestStream, fmt.Sprintf("rtmp#%d", i+1))
		if err != nil {
			t.Fatalf("honest viewer: %v", err)
		}
		h.viewers = append(h.viewers, v)
	}
	v, err := startFLVViewer(t, d, honestStream, "httpflv#1")
	if err != nil {
		t.Fatalf("honest viewer: %v", err)
	}
	h.viewers = append(h.viewers, v)
	deadline := time.Now().Add(warmBound)
	for _, v := range h.viewers {
		for v.Received() < warmFrames {
			if time.Now().After(deadline) {
				t.Fatalf("honest viewer %s received %d frames before the attack (want %d): %v", v.name, v.Received(), warmFrames, v.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return h
}

// keepUp is one viewer's result over an attack window.
type keepUp struct {
	viewer string
	share  float64
	gap    time.Duration
	err    error // non-nil: disconnected
}

// measure waits (bounded by keepUpDrain) for the viewers to receive frames up
// to to-1, then returns each viewer's share of [from, to).
func (h *honest) measure(from, to int64) []keepUp {
	end := time.Now()
	deadline := end.Add(keepUpDrain)
	for _, v := range h.viewers {
		for {
			_, _, top := v.window(from, to, end)
			if top >= to-1 || v.Err() != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	out := make([]keepUp, 0, len(h.viewers))
	for _, v := range h.viewers {
		share, gap, _ := v.window(from, to, end)
		out = append(out, keepUp{viewer: v.name, share: share, gap: gap, err: v.Err()})
	}
	return out
}
