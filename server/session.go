package server

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/netpoll"
)

type sessionState uint8

const (
	stateHandshake sessionState = iota
	stateChunks                 // handshake done, waiting for connect
	stateConnected
)

// Session is one RTMP connection. Handlers receive it in their hooks; its methods
// are safe to call from those hooks (which run on the connection's event loop).
type Session struct {
	srv   *Server
	conn  netpoll.Conn
	loop  *loopState
	id    uint64
	log   *slog.Logger
	state sessionState

	hs  chunkcodec.ServerHandshake
	dec *chunkcodec.Decoder
	doc amf0.Document

	outChunk uint32
	created  time.Time
	kind     int                 // listener kind, for the connection budget's release
	names    registry.NameBudget // stream names this connection brought into the registry

	// Idle clock (loop-only): reads counts OnData calls; the sweep (OnTick)
	// notes when it last saw the count change, so idleness is measured in
	// sweeps of the peer sending nothing, never from a cached loop time.
	reads       uint64
	readsAtTick uint64
	lastReadAt  time.Time

	closeErr error // set when the session decided to close after flushing
	closed   bool  // set in OnClose; loop tasks from other goroutines check it (vod.go)
	// wsCloseSent records that a WebSocket close frame went out (loop-only): the
	// peer's close that answers it is not echoed (RFC 6455 section 5.5.1).
	wsCloseSent bool

	app     *App
	appName string
	handler Handler
	connect ConnectRequest

	streams []*netStream // index = message stream id - 1

	values map[string]any
}

// netStream is one NetStream (message stream id) of the connection.
type netStream struct {
	id uint32

	// Publishing.
	pub    *registry.Stream
	pubReq StreamRequest
	epoch  uint64 // this publish's fanout epoch: a replaced publisher's frames are refused
	// Media clock, as the idle clock above: media counts audio and video
	// messages, the sweep notes when the count last changed.
	media       uint64
	mediaAtTick uint64
	lastMediaAt time.Time

	// Playing.
	play    *registry.Stream
	playReq StreamRequest
	sub     *fanout.Subscriber
	noAudio bool
	noVideo bool

	// VOD (vod.go): a recording played on this stream, and the player's
	// latest Set Buffer Length in milliseconds.
	vod      *vodPlay
	bufferMs uint32
}

func newSession(srv *Server, c netpoll.Conn, kind int) *Session {
	// The wall clock, not the loop's cached tick time: a loop that has never
	// served a connection has not ticked yet, and its cached time (server
	// start) made the first connection on it time out at once (found by the
	// VOD tests, vod_e2e_test.go).
	now := time.Now()
	s := &Session{
		srv:      srv,
		conn:     c,
		loop:     srv.loops[c.Loop().Index()],
		id:       srv.nextID.Add(1),
		outChunk: chunkcodec.DefaultChunkSize,
		created:  now,
		kind:     kind,
		names:    registry.NameBudget{Max: srv.cfg.MaxNamesPerConn},
	}
	s.hs.Epoch = 0
	s.log = srv.log.With("conn", s.id, "peer", c.RemoteAddr())
	return s
}

// ID returns a process-unique connection id.
func (s *Session) ID() uint64 { return s.id }

// RemoteAddr returns the peer address.
func (s *Session) RemoteAddr() string { return s.conn.RemoteAddr() }

// App returns the app name from connect.
func (s *Session) App() string { return s.appName }

// Connect returns the connect request (its Object is not retained).
func (s *Session) Connect() ConnectRequest {
	c := s.connect
	c.Object = amf0.Value{}
	return c
}

// Set stores a value on the session for handlers.
func (s *Session) Set(key string, v any) {
	if s.values == nil {
		s.values = map[string]any{}
	}
	s.values[key] = v
}

// Get returns a value stored with Set.
func (s *Session) Get(key string) any { return s.values[key] }

// Close closes the connection. Safe from any goroutine.
func (s *Session) Close() error { return s.conn.Close() }

// closeWith closes the connection from any goroutine; reason is for the log.
func (s *Session) closeWith(reason error) {
	s.log.Info("closing", "reason", reason)
	_ = s.conn.Close()
}

// release returns the connection's slots in the server's budgets (OnClose).
func (s *Session) release() {
	s.srv.connsOpen.Add(-1)
	s.srv.admit.Release(s.kind, s.conn.RemoteAddr())
}

// checkPartial closes a connection that started an RTMP message and has not
// completed it within Config.PartialMessageTimeout (loop-only, from OnTick).
// Time is counted in the loop's ticks: a loop that falls behind stretches the
// deadline rather than cutting off a peer whose bytes it has not read yet.
func (s *Session) checkPartial() error {
	if s.dec == nil {
		return nil
	}
	if since, ok := s.dec.OldestPartial(); ok && int64(s.loop.ticks)-since > s.srv.partialTicks {
		return ErrPartialTimeout
	}
	return nil
}

// Logger returns the session's logger (with conn id and peer address).
func (s *Session) Logger() *slog.Logger { return s.log }

// rtmpPort is a Session as its transport sees it: the netpoll.Session
// callbacks stay out of the handle that handlers receive. A *Session converts
// to a *rtmpPort (and back) without allocating.
type rtmpPort Session

// OnData implements netpoll.Session (loop-only).
func (p *rtmpPort) OnData(b []byte) error { return (*Session)(p).onData(b) }

// OnTick implements netpoll.Session (loop-only).
func (p *rtmpPort) OnTick(now time.Time) error { return (*Session)(p).onTick(now) }

// OnClose implements netpoll.Session (loop-only).
func (p *rtmpPort) OnClose(err error) { (*Session)(p).onClose(err) }

// onData consumes bytes read from the socket.
func (s *Session) onData(p []byte) error {
	s.reads++
	out := s.loop.out[:0]
	err := s.feed(p, &out)
	if len(out) > 0 {
		_, _ = s.conn.Write(out)
	}
	s.loop.out = out[:0]
	if err == nil {
		err = s.closeErr
	}
	if err == nil {
		err = s.checkBacklog(s.playing())
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

// checkBacklog enforces the connection's outbound budget after the session
// wrote: Config.MaxControlBacklog for a connection that only gets replies
// (a peer that sends commands and never reads is cut off there, not after
// gigabytes), the fanout's hard cap for one that plays.
func (s *Session) checkBacklog(playing bool) error {
	n := s.conn.OutboundBuffered()
	if n <= s.srv.cfg.MaxControlBacklog || (playing && n <= s.srv.cfg.Fanout.HardCap) {
		return nil
	}
	return fmt.Errorf("%w: %d bytes queued", ErrOutboundFull, n)
}

func (s *Session) feed(p []byte, out *[]byte) error {
	if s.state == stateHandshake {
		n, reply, done, err := s.hs.Feed(p, *out)
		*out = reply
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		p = p[n:]
		if !done {
			return nil
		}
		s.state = stateChunks
		s.dec = chunkcodec.NewDecoder(chunkcodec.DecoderConfig{
			MaxMessageSize:      s.srv.cfg.MaxMessageSize,
			MaxInboundChunkSize: s.srv.cfg.MaxInboundChunkSize,
			MaxChunkStreams:     s.srv.cfg.MaxChunkStreams,
			Pool:                s.srv.bufPool,
			Budget:              s.srv.partial,
		})
	}
	// Messages that begin now are stamped with the loop's tick count, which
	// the partial-message deadline is measured in (checkPartial).
	s.dec.SetNow(int64(s.loop.ticks))
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
		}
	}
	if seq, due := s.dec.AckDue(); due {
		*out = chunkcodec.AppendAck(*out, seq)
	}
	return nil
}

// onTick enforces the session's deadlines.
func (s *Session) onTick(now time.Time) error {
	if s.reads != s.readsAtTick || s.lastReadAt.IsZero() {
		s.readsAtTick, s.lastReadAt = s.reads, now
	}
	if s.state != stateConnected {
		if now.Sub(s.created) > s.srv.cfg.HandshakeTimeout {
			return ErrHandshakeSlow
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
			if ns.media != ns.mediaAtTick || ns.lastMediaAt.IsZero() {
				ns.mediaAtTick, ns.lastMediaAt = ns.media, now
			} else if now.Sub(ns.lastMediaAt) > s.app.publisherIdle() {
				return ErrPublisherIdle
			}
		}
		if ns.sub != nil || ns.vod != nil { // VOD plays count as active (vod.go)
			active = true
		}
	}
	if !active && now.Sub(s.lastReadAt) > s.srv.cfg.IdleTimeout {
		return ErrIdle
	}
	return nil
}

// onClose ends every play and publish of the connection.
func (s *Session) onClose(err error) {
	s.release()
	s.closed = true // vod.go
	for _, ns := range s.streams {
		if ns != nil {
			s.stopStream(ns, nil)
		}
	}
	if s.dec != nil {
		s.dec.Release()
	}
	if s.handler != nil {
		s.handler.OnClose(s)
	}
	switch {
	case err == nil, errors.Is(err, netpoll.ErrStopped):
		s.log.Debug("connection closed")
	case isPeerGone(err):
		s.log.Debug("connection closed by peer", "reason", err)
	default:
		s.log.Warn("connection closed", "reason", err)
	}
}

func isPeerGone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe")
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
			s.setBufferLength(uc.Data, uc.BufferLength) // paces VOD plays (vod.go)
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
	if s.app != nil {
		if fn := s.app.messages[m.TypeID]; fn != nil {
			return fn(s, m)
		}
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
		return ErrReplaced
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
		return ErrReplaced
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

// stopStream ends publishing or playing on ns. reason is logged when non-nil.
func (s *Session) stopStream(ns *netStream, reason error) {
	if ns.pub != nil {
		e := ns.pub
		ns.pub = nil
		if released, _ := s.srv.reg.ReleasePublish(s, e); released {
			// The end of stream also finishes the recording, after its last tag.
			e.Fanout.EndPublishAs(ns.epoch, s.eofBytes(e))
			s.log.Info("unpublish", "stream", e.Key)
		}
		if s.handler != nil {
			s.handler.OnUnpublish(s, &ns.pubReq)
		}
	}
	if ns.sub != nil {
		if err := ns.sub.Err(); errors.Is(err, fanout.ErrSlowSubscriber) {
			s.log.Info("viewer disconnected", "stream", ns.play.Key, "reason", err)
		}
		ns.sub.Close()
		ns.sub = nil
	}
	if ns.vod != nil { // VOD play (vod.go): its goroutine stops and closes the file
		ns.vod.stop()
		ns.vod = nil
	}
	if ns.play != nil {
		s.srv.reg.ReleasePlay(ns.play)
		s.log.Debug("play stopped", "stream", ns.play.Key)
		ns.play = nil
	}
}

// startRecording attaches a recording to e's stream. It runs on the
// publisher's loop and does no disk I/O (the recorder's writer creates the
// file).
func (s *Session) startRecording(e *registry.Stream) error {
	if s.srv.reg.Recording(e) != nil {
		return fmt.Errorf("server: %s is already being recorded", e.Key)
	}
	rec, err := s.srv.rec.Start(e.App, e.Name)
	if err != nil {
		s.log.Error("recording not started", "stream", e.Key, "err", err)
		return err
	}
	if !s.srv.reg.SetRecording(e, rec) {
		rec.Stop()
		return fmt.Errorf("server: %s is already being recorded", e.Key)
	}
	// The recording is an FLV subscriber: it starts at the next keyframe (or the
	// cached one) and ends with the stream's end of stream.
	e.Fanout.Subscribe(&s.loop.fan, rec, fanout.SubscriberOptions{Format: fanout.FormatFLV})
	return nil
}

// eofBytes encodes what players receive when the publisher leaves: Stream EOF and
// NetStream.Play.UnpublishNotify on the play stream.
func (s *Session) eofBytes(e *registry.Stream) []byte {
	body := amf0.AppendOnStatus(nil, 0, "status", "NetStream.Play.UnpublishNotify", e.Name+" is now unpublished.")
	b := chunkcodec.AppendMessage(nil, chunkcodec.Header{
		ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeCommandAMF0, StreamID: chunkcodec.PlayStreamID,
	}, body, s.srv.cfg.ChunkSize)
	return chunkcodec.AppendStreamEOF(b, chunkcodec.PlayStreamID)
}
