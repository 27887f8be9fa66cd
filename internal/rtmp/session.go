package rtmp

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/rtmpmsg"
	"github.com/quaverlive/quaver/internal/vod"
	"github.com/quaverlive/quaver/netpoll"
)

type sessionState uint8

const (
	stateHandshake sessionState = iota
	stateChunks                 // handshake done, waiting for connect
	stateConnected
)

// Session is one RTMP connection: the handshake, the chunk stream and the
// commands, on the connection's event loop. It implements netpoll.Session
// (OnData, OnTick and OnClose are loop-only); the server hands handlers its
// public handle, never this type. All methods are loop-only unless marked.
type Session struct {
	engine.Session // identity, app, budgets; what handlers see

	state sessionState
	hs    *chunkcodec.ServerHandshake // until the handshake completes (its 3 KiB are dropped then)
	dec   *chunkcodec.Decoder
	doc   amf0.Document

	outChunk uint32

	// Idle clock (loop-only): Reads counts OnData calls; the sweep (OnTick)
	// notes when it last saw the count change, so idleness is measured in
	// sweeps of the peer sending nothing, never from a cached loop time.
	readsAtTick uint64
	lastReadAt  time.Time

	closeErr error // set when the session decided to close after flushing

	// held are the bytes received while a step waits for its hook's
	// deferred decision (at most maxHeldBytes), read once it resolves.
	held []byte

	streams []*netStream // index = message stream id - 1
}

// netStream is one NetStream (message stream id) of the connection.
type netStream struct {
	id uint32

	// Publishing.
	pub    *registry.Stream
	pubReq engine.StreamRequest
	epoch  uint64 // this publish's fanout epoch: a replaced publisher's frames are refused
	// Media clock, as the idle clock above: media counts audio and video
	// messages, the sweep notes when the count last changed.
	media       uint64
	mediaAtTick uint64
	lastMediaAt time.Time

	// Playing.
	play    *registry.Stream
	playReq engine.StreamRequest
	sub     *fanout.Subscriber
	noAudio bool
	noVideo bool

	// A recording played on this stream (vodcmd.go), and the player's latest
	// Set Buffer Length in milliseconds.
	vod      *vod.Play
	bufferMs uint32
}

// New returns the session of a connection accepted by a listener of kind
// (loop-only). The caller sets Handle, the value the app's hooks receive.
func New(sh *engine.Shared, c netpoll.Conn, kind int) *Session {
	s := &Session{outChunk: chunkcodec.DefaultChunkSize, hs: new(chunkcodec.ServerHandshake)}
	s.Init(sh, c, kind)
	return s
}

// SetHandshakeRand replaces the handshake's source of random bytes (tests:
// deterministic S1 without crypto/rand).
func (s *Session) SetHandshakeRand(r io.Reader) { s.hs.Rand = r }

// checkPartial closes a connection that started an RTMP message and has not
// completed it within the partial-message timeout (loop-only, from OnTick).
// Time is counted in the loop's ticks: a loop that falls behind stretches the
// deadline rather than cutting off a peer whose bytes it has not read yet.
func (s *Session) checkPartial() error {
	if s.dec == nil {
		return nil
	}
	if since, ok := s.dec.OldestPartial(); ok && int64(s.Loop.Ticks)-since > s.Shared.PartialTicks {
		return engine.ErrPartialTimeout
	}
	return nil
}

// OnData consumes bytes read from the socket (netpoll.Session; loop-only).
func (s *Session) OnData(p []byte) error {
	s.Reads++
	s.BytesIn.Add(uint64(len(p)))
	// The output accumulates in the loop's scratch, reached through a
	// pointer into it: a pointer to a local would escape into the steps a
	// deferred decision holds and cost an allocation per read.
	out := &s.Loop.Out
	*out = (*out)[:0]
	return s.flush(out, s.feed(p, out))
}

// flush writes the output a read (or a resumed step) produced and returns
// why the connection must close: err, the session's own reason, or an
// outbound backlog over its budget (loop-only).
func (s *Session) flush(out *[]byte, err error) error {
	if len(*out) > 0 {
		_, _ = s.Conn.Write(*out)
	}
	*out = (*out)[:0]
	if err == nil {
		err = s.closeErr
	}
	if err == nil {
		err = s.CheckBacklog(s.playing())
	}
	return err
}

// playing reports whether the connection receives media (live or recorded),
// which sets how much output may wait for it (see checkBacklog).
func (s *Session) playing() bool {
	for _, ns := range s.streams {
		if ns != nil && (ns.sub != nil || ns.vod != nil) {
			return true
		}
	}
	return false
}

func (s *Session) feed(p []byte, out *[]byte) error {
	if s.state == stateHandshake {
		n, reply, done, err := s.hs.Feed(p, *out)
		*out = reply
		if err != nil {
			s.Shared.HandshakeFailures.Add(1)
			return fmt.Errorf("handshake: %w", err)
		}
		p = p[n:]
		if !done {
			return nil
		}
		s.hs = nil // a playing connection keeps no handshake buffers
		s.state = stateChunks
		s.dec = chunkcodec.NewDecoder(chunkcodec.DecoderConfig{
			MaxMessageSize:      s.Shared.Limits.MaxMessageSize,
			MaxInboundChunkSize: s.Shared.Limits.MaxInboundChunkSize,
			MaxChunkStreams:     s.Shared.Limits.MaxChunkStreams,
			Pool:                s.Shared.BufPool,
			Budget:              s.Shared.Partial,
		})
	}
	if s.Pending() != nil {
		return s.hold(p)
	}
	// Messages that begin now are stamped with the loop's tick count, which
	// the partial-message deadline is measured in (checkPartial).
	s.dec.SetNow(int64(s.Loop.Ticks))
	for len(p) > 0 {
		n, m, err := s.dec.Feed(p)
		p = p[n:]
		if err != nil {
			return err
		}
		if m != nil {
			if err := s.handle(m, out); err != nil {
				return err
			}
			if s.closeErr != nil {
				return nil
			}
			if s.Pending() != nil {
				return s.hold(p)
			}
		}
	}
	if seq, due := s.dec.AckDue(); due {
		*out = chunkcodec.AppendAck(*out, seq)
	}
	return nil
}

// OnTick enforces the session's deadlines (netpoll.Session; loop-only).
func (s *Session) OnTick(now time.Time) error {
	s.CheckDeadline(now) // a deferred decision that did not come in time refuses
	if s.closeErr != nil {
		return s.closeErr
	}
	if s.Reads != s.readsAtTick || s.lastReadAt.IsZero() {
		s.readsAtTick, s.lastReadAt = s.Reads, now
	}
	if s.state != stateConnected {
		if now.Sub(s.Created) > s.Shared.Limits.HandshakeTimeout {
			if s.state == stateHandshake {
				s.Shared.HandshakeFailures.Add(1)
			}
			return engine.ErrHandshakeSlow
		}
		return nil
	}
	if err := s.checkPartial(); err != nil {
		return err
	}
	active := false
	for _, ns := range s.streams {
		if ns == nil {
			continue
		}
		if ns.pub != nil {
			active = true
			s.AnnounceMedia(ns.pub.Fanout, now) // codecs and picture size, logged once
			if ns.media != ns.mediaAtTick || ns.lastMediaAt.IsZero() {
				ns.mediaAtTick, ns.lastMediaAt = ns.media, now
			} else if now.Sub(ns.lastMediaAt) > s.App.PublisherIdle {
				return engine.ErrPublisherIdle
			}
		}
		if ns.sub != nil || ns.vod != nil { // VOD plays count as active (vodcmd.go)
			active = true
		}
	}
	if !active && now.Sub(s.lastReadAt) > s.Shared.Limits.IdleTimeout {
		return engine.ErrIdle
	}
	return nil
}

// OnClose ends every play and publish of the connection (netpoll.Session;
// loop-only).
func (s *Session) OnClose(err error) {
	if err == nil {
		err = s.closeErr // decided in a loop task (resumeWith)
	}
	s.ReleaseSlot()
	s.Closed = true // checked by VOD tasks
	for _, ns := range s.streams {
		if ns != nil {
			s.stopStream(ns, err)
		}
	}
	if s.dec != nil {
		s.dec.Release()
	}
	// What a pending step held goes now: its decision, which keeps the
	// session, may come much later.
	s.held = nil
	if s.App != nil { // connected
		s.Hooks().OnClose(&s.Session)
	}
	switch {
	case err == nil, errors.Is(err, netpoll.ErrStopped):
		s.Log.Debug("connection closed")
	case engine.IsPeerGone(err):
		s.Log.Debug("connection closed by peer", "reason", err)
	default:
		s.Log.Warn("connection closed", "reason", err)
	}
}

// handle dispatches one inbound message.
func (s *Session) handle(m *chunkcodec.Message, out *[]byte) error {
	switch m.TypeID {
	case chunkcodec.TypeSetChunkSize, chunkcodec.TypeAbort, chunkcodec.TypeAck,
		chunkcodec.TypeWindowAckSize, chunkcodec.TypeSetPeerBandwidth:
		return nil // applied by the decoder or nothing to do
	case chunkcodec.TypeUserControl:
		uc, err := chunkcodec.ParseUserControl(m.Payload)
		if err != nil {
			return nil // lenient: ignore malformed user control
		}
		if uc.Event == chunkcodec.EventPingRequest {
			*out = chunkcodec.AppendPingResponse(*out, uc.Data)
		} else if uc.Event == chunkcodec.EventSetBufferLength {
			s.setBufferLength(uc.Data, uc.BufferLength) // paces VOD plays (vodcmd.go)
		}
		return nil
	case chunkcodec.TypeCommandAMF0, chunkcodec.TypeCommandAMF3:
		body := m.Payload
		if m.TypeID == chunkcodec.TypeCommandAMF3 && len(body) > 0 && body[0] == 0 {
			body = body[1:]
		}
		return s.command(m, body, out)
	case chunkcodec.TypeAudio, chunkcodec.TypeVideo:
		return s.media(m.TypeID, m.StreamID, m.Timestamp, m.Payload)
	case chunkcodec.TypeDataAMF0, chunkcodec.TypeDataAMF3:
		body := m.Payload
		if m.TypeID == chunkcodec.TypeDataAMF3 && len(body) > 0 && body[0] == 0 {
			body = body[1:]
		}
		return s.data(m.StreamID, m.Timestamp, body)
	case chunkcodec.TypeAggregate:
		return s.aggregate(m)
	}
	if s.App != nil {
		_, err := s.Hooks().Message(&s.Session, m)
		return err
	}
	return nil // unknown message types are ignored
}

// publisherFor returns the publishing NetStream for a message stream id. Lenient:
// a connection with exactly one publishing stream gets its media whatever the id.
func (s *Session) publisherFor(id uint32) *netStream {
	if id >= 1 && int(id) <= len(s.streams) {
		if ns := s.streams[id-1]; ns != nil && ns.pub != nil {
			return ns
		}
	}
	for _, ns := range s.streams {
		if ns != nil && ns.pub != nil {
			return ns
		}
	}
	return nil
}

func (s *Session) media(typeID uint8, streamID, ts uint32, payload []byte) error {
	ns := s.publisherFor(streamID)
	if ns == nil {
		return nil // media before publish: ignore
	}
	ns.media++
	if _, err := ns.pub.Fanout.PublishAs(ns.epoch, typeID, ts, payload); err != nil {
		return engine.ErrReplaced
	}
	return nil
}

// data handles @setDataFrame / onMetaData and other data messages of a publisher.
func (s *Session) data(streamID, ts uint32, body []byte) error {
	ns := s.publisherFor(streamID)
	if ns == nil {
		return nil
	}
	body = flvmux.StripSetDataFrame(body)
	if _, err := ns.pub.Fanout.PublishAs(ns.epoch, chunkcodec.TypeDataAMF0, ts, body); err != nil {
		return engine.ErrReplaced
	}
	return nil
}

// aggregate splits an aggregate message (FLV tags back to back) into its parts.
func (s *Session) aggregate(m *chunkcodec.Message) error {
	p := m.Payload
	var base uint32
	first := true
	for len(p) >= flvmux.TagHeaderSize {
		th, n, err := flvmux.ReadTagHeader(p)
		if err != nil || n == 0 || len(p) < n+int(th.DataSize) {
			return nil // lenient: drop a malformed tail
		}
		if first {
			base, first = th.Timestamp, false
		}
		ts := m.Timestamp + (th.Timestamp - base)
		body := p[n : n+int(th.DataSize)]
		switch th.Type {
		case flvmux.TagAudio, flvmux.TagVideo:
			if err := s.media(th.Type, m.StreamID, ts, body); err != nil {
				return err
			}
		case flvmux.TagScript:
			if err := s.data(m.StreamID, ts, body); err != nil {
				return err
			}
		}
		p = p[n+int(th.DataSize):]
		if len(p) >= flvmux.PrevTagSizeLen {
			p = p[flvmux.PrevTagSizeLen:]
		}
	}
	return nil
}

// stopStream ends publishing or playing on ns. reason (nil: the client
// stopped) goes into the play's summary line.
func (s *Session) stopStream(ns *netStream, reason error) {
	if ns.pub != nil {
		e := ns.pub
		ns.pub = nil
		if d, ok := s.Conn.(netpoll.ReadDeferrer); ok && s.publisherFor(0) == nil {
			_ = d.DeferReads(false) // commands after the last publish are answered at once
		}
		e.Fanout.SetBurstInput(ns.epoch, false)
		s.EndPublish(e.Fanout) // the summary line, before the codec state goes
		if released, _ := s.Shared.Reg.ReleasePublish(s, e); released {
			// Players wait for the next publisher of the name (the
			// registry's grace), unless the server is shutting down; the
			// recording ends here either way, after its last tag.
			if s.Shared.ShuttingDown.Load() || s.Shared.Limits.RepublishGrace < 0 {
				e.Fanout.EndPublishAs(ns.epoch, s.eofBytes(e))
			} else {
				e.Fanout.SuspendPublishAs(ns.epoch, s.eofBytes(e))
			}
		}
		if s.App != nil {
			s.Hooks().OnUnpublish(&s.Session, &ns.pubReq)
		}
	}
	if ns.sub != nil {
		if err := ns.sub.Err(); errors.Is(err, fanout.ErrSlowSubscriber) {
			reason = err // in the play's summary line (EndPlay)
		}
		ns.sub.Close()
		ns.sub = nil
	}
	if ns.vod != nil { // VOD play (vodcmd.go): its goroutine stops and closes the file
		ns.vod.Stop()
		s.Hooks().OnPlayDone(&s.Session, ns.vod.Request())
		ns.vod = nil
	}
	if ns.play != nil {
		s.Hooks().OnPlayDone(&s.Session, &ns.playReq)
		s.Shared.Reg.ReleasePlay(ns.play)
		ns.play = nil
	}
	s.EndPlay(reason) // the play's summary line, if ns played
}

// startRecording attaches a recording to e's stream. It runs on the
// publisher's loop and does no disk I/O (the recorder's writer creates the
// file).
func (s *Session) startRecording(e *registry.Stream) error {
	if s.Shared.Reg.Recording(e) != nil {
		return fmt.Errorf("server: %s is already being recorded", e.Key)
	}
	rec, err := s.Shared.Rec.Start(e.App, e.Name)
	if err != nil {
		s.Log.Error("recording not started", "stream", e.Key, "err", err)
		return err
	}
	if !s.Shared.Reg.SetRecording(e, rec) {
		rec.Stop()
		return fmt.Errorf("server: %s is already being recorded", e.Key)
	}
	// The recording is an FLV subscriber: it starts at the next keyframe (or the
	// cached one) and ends with the stream's end of stream.
	e.Fanout.Subscribe(&s.Loop.Fan, rec, fanout.SubscriberOptions{Format: fanout.FormatFLV, EndOnSuspend: true})
	return nil
}

// eofBytes encodes what players receive when the publisher leaves
// (rtmpmsg.AppendUnpublishNotify).
func (s *Session) eofBytes(e *registry.Stream) []byte {
	return rtmpmsg.AppendUnpublishNotify(nil, s.Shared.Limits.ChunkSize, e.Name)
}
