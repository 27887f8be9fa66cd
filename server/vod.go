package server

// VOD: a play of a name that no publisher is live on plays a recording.
//
// RTMP, HTTP-FLV and WebSocket-FLV plays that find no live publisher look the
// name up with recorder.Manager.Find: "<stream>" is the app's newest recording
// of that stream, "<file>.flv" (or "<file>" when the client strips the
// extension, as FFmpeg does) a file in the app's folder. The app's Handler.OnPlay
// has already accepted the play, exactly as for a live one.
//
// Threading: the session runs on its event loop, where disk I/O must never
// happen. Each VOD play therefore has one goroutine that finds, opens and reads
// the file and prepares the bytes to send (RTMP chunks, or raw FLV for HTTP and
// WebSocket). It hands them to the loop with Loop.Execute, one task at a time,
// and waits for that task to run: the task writes the bytes (if the play is
// still on), and reports the connection's outbound backlog. At most one batch
// (vodBatchBytes) and the connection's backlog (the high watermark plus one
// batch) are in flight per play. The watermarks and the stall timeout are the
// fanout's (Config.Fanout), so live and recorded plays share one slow-viewer
// policy. The goroutine waits on timers and a wake channel, never
// spins. The session's close (or deleteStream/closeStream) stops the play on the
// loop: the goroutine's context is cancelled, it returns and closes the file.
//
// RTMP plays are paced at real time: a tag with timestamp t is sent once
// t <= playhead + buffer length + vodLead, where the playhead advances with the
// wall clock from the play (or seek) position and stops while paused, and the
// buffer length is what the player announced with Set Buffer Length (user
// control event 3; DefaultVODBufferLength until it does). seek jumps to the
// keyframe at or before the time (the metadata's keyframe index, or a scan of
// the tags); pause and unpause stop and restart the clock. The end is Stream
// EOF, NetStream.Play.Stop and onPlayStatus NetStream.Play.Complete, sent once
// the playhead reaches the last tag (so however long the buffer, a play lasts
// at least the recording's duration); the play stays open so the player can
// seek back.
//
// HTTP-FLV and WebSocket-FLV plays send the file as fast as the client reads it
// (reading more only while the outbound backlog is under the high watermark). With
// ?start=SECONDS they send the FLV header, the metadata, the sequence headers and
// then the file from the keyframe at or before that time. HTTP closes after the
// last byte; WebSocket sends close 1000 "end of recording".

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// VOD limits and pacing.
const (
	// DefaultVODBufferLength is the player buffer (milliseconds) an RTMP VOD
	// play assumes until the player sends Set Buffer Length.
	DefaultVODBufferLength = 1000
	// MaxVODBufferLength caps the buffer length a player may ask for: an RTMP
	// VOD play never runs further ahead of the wall clock than this. librtmp
	// (rtmpdump, GStreamer's rtmpsrc) announces a 10-hour buffer; players
	// that pace themselves (Flash, FFmpeg's 3 s default) stay well below.
	MaxVODBufferLength = 10000
	// vodLead is sent beyond the player's buffer so that scheduling jitter never
	// lets it run dry.
	vodLead = 250
	// vodBatchBytes bounds the bytes handed to the loop in one task.
	vodBatchBytes = 256 << 10
	// vodTaskTimeout gives up on a loop that does not run a task this long
	// (a transport shutting down).
	vodTaskTimeout = 30 * time.Second
	// vodCloseGrace is how long a WebSocket VOD play waits for the client's
	// close frame after its own before closing the connection.
	vodCloseGrace = time.Second
	// vodProbeMin and vodProbeMax bound the interval at which a play waiting for
	// its connection's backlog to drain asks the loop again.
	vodProbeMin = time.Millisecond
	vodProbeMax = 100 * time.Millisecond
)

// Status codes of VOD plays.
const (
	codePlayStop     = "NetStream.Play.Stop"
	codePlayComplete = "NetStream.Play.Complete"
	codeSeekNotify   = "NetStream.Seek.Notify"
	codeSeekFailed   = "NetStream.Seek.Failed"
)

// vodKind is how a VOD play is delivered.
type vodKind uint8

const (
	vodRTMP vodKind = iota
	vodHTTP
	vodWS
)

// Loop task operations.
const (
	vodOpFunc    uint8 = iota // run fn
	vodOpWrite                // write data, unless a seek made it stale
	vodOpProbe                // only report the backlog
	vodOpClose                // close the connection
	vodOpWSClose              // write a WebSocket close frame (data) and remember it was sent
)

// vodPlay is one VOD play. Fields are owned as marked: loop-only fields are
// touched only by tasks and commands on the connection's loop; the goroutine
// owns the reading side; mu guards the controls the loop passes to it.
type vodPlay struct {
	srv  *Server
	sess *Session // the RTMP session, or the HTTP session's embedded one
	h    *httpSession
	ns   *netStream
	kind vodKind
	app  string
	req  StreamRequest
	rec  recorder.Info // the recording, from the recorder's index
	log  *slog.Logger

	reset   bool    // RTMP play's reset flag
	startMs float64 // play start argument or ?start=, in ms; <= 0: from the beginning
	sid     uint32  // RTMP message stream id
	chunk   uint32  // RTMP outbound chunk size
	head    bool    // HTTP HEAD request
	fail    func(code int, status string, wsCode uint16, reason string) error

	// HTTP and WebSocket: what sendFile sends, planned before the response
	// head (which carries the length): prefix, then the file from pos to end.
	prefix   []byte
	pos, end int64

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
	task  vodTask  // the one task in flight
	ack   chan int // backlog after a task, -1 when the play is over
	timer *time.Timer
}

// vodTask is work for the loop; one per play is reused, as only one is in flight.
type vodTask struct {
	v    *vodPlay
	op   uint8
	gen  uint32
	data []byte
	fn   func()
}

// Run implements fanout.Task; it runs on the connection's loop.
func (t *vodTask) Run(context.Context) error {
	v := t.v
	if !v.stopped {
		switch t.op {
		case vodOpFunc:
			t.fn()
		case vodOpWrite:
			if t.gen == v.gen {
				_, _ = v.sess.conn.Write(t.data)
			}
		case vodOpClose:
			v.stop()
			_ = v.sess.conn.Close()
		case vodOpWSClose:
			if !v.sess.wsCloseSent {
				v.sess.wsCloseSent = true
				_, _ = v.sess.conn.Write(t.data)
			}
		}
	}
	n := -1
	if !v.stopped {
		n = v.sess.conn.OutboundBuffered()
	}
	select {
	case v.ack <- n:
	default:
	}
	return nil
}

// admitVOD takes a slot of the VOD budget (Config.MaxVODPlays and the per-peer
// limits) for sess; a play that gets one must end with vodPlay.stop.
func (s *Server) admitVOD(sess *Session) bool {
	if v := s.vodAdmit.Admit(0, sess.conn.RemoteAddr(), time.Now()); v != admission.Admitted {
		sess.log.Info("recording play refused", "reason", v.String())
		return false
	}
	return true
}

func (s *Server) newVOD(sess *Session, kind vodKind, app string, req StreamRequest, rec recorder.Info) *vodPlay {
	v := &vodPlay{
		srv:    s,
		sess:   sess,
		kind:   kind,
		app:    app,
		req:    req,
		rec:    rec,
		seekMs: -1,
		wake:   make(chan struct{}, 1),
		ack:    make(chan int, 1),
	}
	v.log = sess.log.With("stream", streamKey(app, req.Name))
	v.task.v = v
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v
}

// stop ends the play (loop-only): later tasks do nothing and the goroutine
// returns and closes the file. Idempotent.
func (v *vodPlay) stop() {
	if v.stopped {
		return
	}
	v.stopped = true
	v.cancel()
	v.srv.vodAdmit.Release(0, v.sess.conn.RemoteAddr())
}

func (v *vodPlay) signal() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// start runs the play's goroutine, which the Server owns (Shutdown waits for
// it after the connections are closed, which cancels it).
func (v *vodPlay) start() {
	v.srv.vodWG.Add(1)
	go func() {
		defer v.srv.vodWG.Done()
		v.run()
	}()
}

// run is the play's goroutine.
func (v *vodPlay) run() {
	v.timer = time.NewTimer(time.Hour)
	v.timer.Stop()
	vf, err := v.open()
	if err != nil {
		if v.ctx.Err() == nil {
			v.log.Warn("recording unreadable", "file", v.rec.File, "err", err)
		}
		v.do(vodOpFunc, 0, nil, v.notFound)
		return
	}
	defer vf.Close()
	v.file = vf
	if v.kind != vodRTMP {
		v.planFile(vf)
	}
	if _, ok := v.do(vodOpFunc, 0, nil, v.begin); !ok {
		return
	}
	if v.kind == vodRTMP {
		v.paceRTMP(vf)
	} else {
		v.sendFile(vf)
	}
}

// open opens the play's recording beneath the record directory (never
// following a link out of it) and reads its head. A file that has gone from
// disk is dropped from the index.
func (v *vodPlay) open() (*recorder.File, error) {
	f, err := v.srv.rec.OpenRecording(v.rec.File)
	if err != nil {
		if errors.Is(err, recorder.ErrNotFound) {
			v.srv.rec.Forget(v.rec.File)
		}
		return nil, err
	}
	return recorder.OpenFile(f, v.rec.File)
}

// do runs one task on the loop and waits for it. It returns the connection's
// outbound backlog after the task, and false when the play is over.
func (v *vodPlay) do(op uint8, gen uint32, data []byte, fn func()) (int, bool) {
	v.task.op, v.task.gen, v.task.data, v.task.fn = op, gen, data, fn
	if err := v.sess.conn.Loop().Execute(&v.task); err != nil {
		return 0, false
	}
	v.timer.Reset(vodTaskTimeout)
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
func (v *vodPlay) sleep(d time.Duration) bool {
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
func (v *vodPlay) drain(n, target int) bool {
	interval := vodProbeMin
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
		if n, ok = v.do(vodOpProbe, 0, nil, nil); !ok {
			return false
		}
		if n < last {
			last, progress = n, time.Now()
			interval = max(interval/2, vodProbeMin)
			continue
		}
		interval = min(interval*2, vodProbeMax)
		if time.Since(progress) > v.srv.cfg.Fanout.StallTimeout {
			v.log.Warn("vod play closed: client reads nothing", "queued", n)
			v.do(vodOpClose, 0, nil, nil)
			return false
		}
	}
	return true
}

// notFound runs on the loop when no playable recording exists: an RTMP play
// waits for a live publisher, an HTTP play gets 404.
func (v *vodPlay) notFound() {
	v.stop()
	if v.kind == vodRTMP {
		s, ns := v.sess, v.ns
		if ns.vod != v {
			return
		}
		ns.vod = nil
		out := s.loop.out[:0]
		s.playLive(ns, v.req, v.reset, &out)
		if len(out) > 0 {
			_, _ = s.conn.Write(out)
		}
		s.loop.out = out[:0]
		return
	}
	v.h.vod = nil
	_ = v.fail(404, "Not Found", wsflv.CloseNotFound, "stream "+v.app+"/"+v.req.Name+" is not live")
}

// begin runs on the loop once the recording is open: the RTMP play's status
// messages and metadata, or the HTTP response head / WebSocket upgrade.
func (v *vodPlay) begin() {
	vf := v.file
	v.duration = vf.Metadata().Duration
	s := v.sess
	switch v.kind {
	case vodRTMP:
		out := s.appendPlayStart(s.loop.out[:0], v.sid, v.req.Name, v.reset)
		if meta := vf.OnMetaData(); len(meta) > 0 {
			out = chunkcodec.AppendMessage(out, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeDataAMF0, StreamID: v.sid}, meta, v.chunk)
		}
		_, _ = s.conn.Write(out)
		s.loop.out = out[:0]
	case vodWS:
		h := v.h
		out, err := wsflv.Upgrade(h.req.Head, h.loop.out[:0], []byte(corsHeaders))
		_, _ = h.conn.Write(out)
		h.loop.out = out[:0]
		if err != nil {
			h.state = httpDone
			v.stop()
			_ = h.conn.Close()
			return
		}
		h.state = httpWS
	case vodHTTP:
		h := v.h
		// The length is known, so it is sent: players can show progress, and
		// FFmpeg reports a close-delimited body of unknown size as truncated.
		b := fmt.Appendf(h.loop.out[:0], "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nContent-Length: %d\r\nCache-Control: no-cache, no-store\r\nConnection: close\r\n%s\r\n",
			int64(len(v.prefix))+v.end-v.pos, corsHeaders)
		_, _ = h.conn.Write(b)
		h.loop.out = b[:0]
		if v.head {
			h.state = httpDone
			v.stop()
			_ = h.conn.Close()
			return
		}
	}
	v.log.Info("play", "recording", vf.Name(), "via", v.req.Type, "start_ms", int64(max(v.startMs, 0)))
}
