package vod

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/recorder"
)

// Limits and pacing.
const (
	// DefaultBufferLength is the player buffer (milliseconds) an RTMP play
	// assumes until the player sends Set Buffer Length.
	DefaultBufferLength = 1000
	// MaxBufferLength caps the buffer length a player may ask for: an RTMP
	// play never runs further ahead of the wall clock than this. librtmp
	// (rtmpdump, GStreamer's rtmpsrc) announces a 10-hour buffer; players
	// that pace themselves (Flash, FFmpeg's 3 s default) stay well below.
	MaxBufferLength = 10000
	// lead is sent beyond the player's buffer so that scheduling jitter never
	// lets it run dry.
	lead = 250
	// BatchBytes bounds the bytes handed to the loop in one task.
	BatchBytes = 256 << 10
	// taskTimeout gives up on a loop that does not run a task this long (a
	// transport shutting down).
	taskTimeout = 30 * time.Second
	// closeGrace is how long a WebSocket play waits for the client's close
	// frame after its own before closing the connection.
	closeGrace = time.Second
	// probeMin and probeMax bound the interval at which a play waiting for
	// its connection's backlog to drain asks the loop again.
	probeMin = time.Millisecond
	probeMax = 100 * time.Millisecond
)

// Kind is how a play is delivered.
type Kind uint8

// Kinds of play.
const (
	RTMP Kind = iota
	HTTP
	WS
)

// Loop task operations.
const (
	opFunc    uint8 = iota // run fn
	opWrite                // write data, unless a seek made it stale
	opProbe                // only report the backlog
	opClose                // close the connection
	opWSClose              // write a WebSocket close frame (data) and remember it was sent
)

// Play is one play of a recording. Fields are owned as marked: loop-only
// fields are touched only by tasks and commands on the connection's loop;
// the goroutine owns the reading side; mu guards the controls the loop passes
// to it. Set the exported fields before Start.
type Play struct {
	sess *engine.Session
	kind Kind
	req  engine.StreamRequest
	rec  recorder.Info // the recording, from the recorder's index
	log  *slog.Logger

	// Set before Start.
	Reset     bool    // RTMP play's reset flag
	StartMs   float64 // play start argument or ?start=, in ms; <= 0: from the beginning
	StreamID  uint32  // RTMP message stream id
	ChunkSize uint32  // RTMP outbound chunk size
	// OnBegin runs on the loop once the recording is open: it sends the
	// play's start (RTMP statuses and metadata, or the HTTP response head /
	// WebSocket upgrade). Returning false ends the play and closes the
	// connection.
	OnBegin func(p *Play) bool
	// OnNotFound runs on the loop when the recording cannot be read, after
	// the play has stopped.
	OnNotFound func(p *Play)

	// HTTP and WebSocket: what sendFile sends, planned before the response
	// head (which carries the length): prefix, then the file from pos to end.
	prefix   []byte
	pos, end int64
	part     httpPart // the Range field and the range answered (http.go)

	ctx    context.Context
	cancel context.CancelFunc

	// Loop-only.
	stopped  bool
	gen      uint32  // bumped by every seek; batches of an older gen are dropped
	duration float64 // seconds, known once playing

	// Guarded by mu: controls from the loop to the goroutine.
	mu      sync.Mutex
	bufMs   uint32
	paused  bool
	seekMs  float64 // < 0: no seek pending
	seekGen uint32
	wake    chan struct{}

	// Goroutine-owned.
	file  *recorder.File
	task  task     // the one task in flight
	ack   chan int // backlog after a task, -1 when the play is over
	timer *time.Timer
}

// task is work for the loop; one per play is reused, as only one is in flight.
type task struct {
	v    *Play
	op   uint8
	gen  uint32
	data []byte
	fn   func()
}

// Run implements netpoll.Task; it runs on the connection's loop.
func (t *task) Run(context.Context) error {
	v := t.v
	c := v.sess.Conn
	if !v.stopped {
		switch t.op {
		case opFunc:
			t.fn()
		case opWrite:
			if t.gen == v.gen {
				_, _ = c.Write(t.data)
			}
		case opClose:
			v.Stop()
			_ = c.Close()
		case opWSClose:
			if !v.sess.WSCloseSent {
				v.sess.WSCloseSent = true
				_, _ = c.Write(t.data)
			}
		}
	}
	n := -1
	if !v.stopped {
		n = c.OutboundBuffered()
	}
	select {
	case v.ack <- n:
	default:
	}
	return nil
}

// Admit takes a slot of the VOD budget (the server's MaxVODPlays and the
// per-peer limits) for s, or logs the refusal; a play that gets one must end
// with Stop (loop-only).
func Admit(s *engine.Session) bool {
	if v := s.Shared.VODAdmit.Admit(0, s.Conn.RemoteAddr(), time.Now()); v != admission.Admitted {
		s.Log.Info("recording play refused", "reason", v.String())
		return false
	}
	return true
}

// New returns a play of rec for s that has taken a slot with Admit
// (loop-only). Set its fields, then Start it.
func New(s *engine.Session, kind Kind, req engine.StreamRequest, rec recorder.Info) *Play {
	v := &Play{
		sess:   s,
		kind:   kind,
		req:    req,
		rec:    rec,
		seekMs: -1,
		wake:   make(chan struct{}, 1),
		ack:    make(chan int, 1),
	}
	v.log = s.Log.With("stream", registry.Key(req.App, req.Name))
	v.task.v = v
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v
}

// Request returns the play request (loop-only).
func (v *Play) Request() *engine.StreamRequest { return &v.req }

// Kind returns how the play is delivered.
func (v *Play) Kind() Kind { return v.kind }

// File returns the open recording (in OnBegin only).
func (v *Play) File() *recorder.File { return v.file }

// Duration returns the recording's duration in seconds, 0 until it plays
// (loop-only).
func (v *Play) Duration() float64 { return v.duration }

// Stop ends the play (loop-only): later tasks do nothing and the goroutine
// returns and closes the file. Idempotent.
func (v *Play) Stop() {
	if v.stopped {
		return
	}
	v.stopped = true
	v.cancel()
	v.sess.Shared.VODAdmit.Release(0, v.sess.Conn.RemoteAddr())
}

func (v *Play) signal() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// SetBufferLength applies the player's Set Buffer Length (loop-only).
func (v *Play) SetBufferLength(ms uint32) {
	v.mu.Lock()
	v.bufMs = ms
	v.mu.Unlock()
	v.signal()
}

// Seek moves the play to the keyframe at or before ms (loop-only): what it
// prepared before and has not been written yet is dropped.
func (v *Play) Seek(ms float64) {
	v.gen++
	v.mu.Lock()
	v.seekMs, v.seekGen = ms, v.gen
	v.mu.Unlock()
	v.signal()
}

// SetPaused stops or restarts the play's clock (loop-only).
func (v *Play) SetPaused(pause bool) {
	v.mu.Lock()
	v.paused = pause
	v.mu.Unlock()
	v.signal()
}

// Start runs the play's goroutine, which the server owns through
// Shared.VODs (its Shutdown waits for it after the connections are closed,
// which cancels it). Loop-only.
func (v *Play) Start() {
	v.sess.Shared.VODs.Add(1)
	go func() {
		defer v.sess.Shared.VODs.Done()
		v.run()
	}()
}

// run is the play's goroutine.
func (v *Play) run() {
	v.timer = time.NewTimer(time.Hour)
	v.timer.Stop()
	vf, err := v.open()
	if err != nil {
		if v.ctx.Err() == nil {
			v.log.Warn("recording unreadable", "file", v.rec.File, "err", err)
		}
		v.do(opFunc, 0, nil, v.notFound)
		return
	}
	defer vf.Close()
	v.file = vf
	if v.kind != RTMP {
		v.planFile(vf)
	}
	if _, ok := v.do(opFunc, 0, nil, v.begin); !ok {
		return
	}
	if v.kind == RTMP {
		v.paceRTMP(vf)
	} else {
		v.sendFile(vf)
	}
}

// open opens the play's recording beneath the record directory (never
// following a link out of it) and reads its head. A file that has gone from
// disk is dropped from the index.
func (v *Play) open() (*recorder.File, error) {
	rec := v.sess.Shared.Rec
	f, err := rec.OpenRecording(v.rec.File)
	if err != nil {
		if errors.Is(err, recorder.ErrNotFound) {
			rec.Forget(v.rec.File)
		}
		return nil, err
	}
	return recorder.OpenFile(f, v.rec.File)
}

// do runs one task on the loop and waits for it. It returns the connection's
// outbound backlog after the task, and false when the play is over.
func (v *Play) do(op uint8, gen uint32, data []byte, fn func()) (int, bool) {
	v.task.op, v.task.gen, v.task.data, v.task.fn = op, gen, data, fn
	if err := v.sess.Conn.Loop().Execute(&v.task); err != nil {
		return 0, false
	}
	v.timer.Reset(taskTimeout)
	defer v.timer.Stop()
	select {
	case n := <-v.ack:
		return n, n >= 0
	case <-v.ctx.Done():
		return 0, false
	case <-v.timer.C:
		return 0, false
	}
}

// sleep waits d (d < 0: no limit), a control change, or the end of the play
// (false).
func (v *Play) sleep(d time.Duration) bool {
	var c <-chan time.Time
	if d >= 0 {
		v.timer.Reset(d)
		c = v.timer.C
		defer v.timer.Stop()
	}
	select {
	case <-c:
		return true
	case <-v.wake:
		return true
	case <-v.ctx.Done():
		return false
	}
}

// drain waits until the connection's backlog n is at most target, asking the
// loop at growing intervals. A client that takes no bytes for the stall timeout
// is disconnected. It returns false when the play is over.
func (v *Play) drain(n, target int) bool {
	interval := probeMin
	last, progress := n, time.Now()
	for n > target {
		v.timer.Reset(interval)
		select {
		case <-v.timer.C:
		case <-v.ctx.Done():
			v.timer.Stop()
			return false
		}
		var ok bool
		if n, ok = v.do(opProbe, 0, nil, nil); !ok {
			return false
		}
		if n < last {
			last, progress = n, time.Now()
			interval = max(interval/2, probeMin)
			continue
		}
		interval = min(interval*2, probeMax)
		if time.Since(progress) > v.sess.Shared.Limits.Fanout.StallTimeout {
			v.log.Warn("vod play closed: client reads nothing", "queued", n)
			v.do(opClose, 0, nil, nil)
			return false
		}
	}
	return true
}

// backlogOK waits, after a write that left n bytes queued, until the backlog
// is under the low watermark when it went over the high one (the fanout's
// watermarks). It returns false when the play is over.
func (v *Play) backlogOK(n int) bool {
	f := &v.sess.Shared.Limits.Fanout
	return n <= f.HighWater || v.drain(n, f.LowWater)
}

// notFound runs on the loop when no playable recording exists.
func (v *Play) notFound() {
	v.Stop()
	if v.OnNotFound != nil {
		v.OnNotFound(v)
	}
}

// begin runs on the loop once the recording is open.
func (v *Play) begin() {
	vf := v.file
	v.duration = vf.Metadata().Duration
	if v.OnBegin != nil && !v.OnBegin(v) {
		v.Stop()
		_ = v.sess.Conn.Close()
		return
	}
	v.log.Info("play", "recording", vf.Name(), "via", v.req.Type, "start_ms", int64(max(v.StartMs, 0)))
}

// Lookup resolves a play name to a recording in the recorder's index (memory
// only, no disk I/O): the name as given, without an "flv:" prefix, and with
// ".flv" added (FFmpeg strips it from RTMP play paths; the HTTP route strips
// it from the URL).
func Lookup(m *recorder.Manager, app, name string) (recorder.Info, error) {
	name = strings.TrimPrefix(name, "flv:")
	in, err := m.Lookup(app, name)
	if err == nil || errors.Is(err, recorder.ErrBadName) || strings.HasSuffix(name, ".flv") {
		return in, err
	}
	if in, err2 := m.Lookup(app, name+".flv"); err2 == nil {
		return in, nil
	}
	return in, err
}
