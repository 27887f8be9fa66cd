package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/recorder"
)

// Status codes sent to clients.
const (
	codeConnectSuccess   = "NetConnection.Connect.Success"
	codeConnectRejected  = "NetConnection.Connect.Rejected"
	codeCallFailed       = "NetConnection.Call.Failed"
	codePublishStart     = "NetStream.Publish.Start"
	codePublishBadName   = "NetStream.Publish.BadName"
	codePublishRejected  = "NetStream.Publish.Rejected"
	codeUnpublishSuccess = "NetStream.Unpublish.Success"
	codePlayReset        = "NetStream.Play.Reset"
	codePlayStart        = "NetStream.Play.Start"
	codePlayFailed       = "NetStream.Play.Failed"
	codePlayNotFound     = "NetStream.Play.StreamNotFound"
	codePlayPublish      = "NetStream.Play.PublishNotify"
	codePauseNotify      = "NetStream.Pause.Notify"
	codeUnpauseNotify    = "NetStream.Unpause.Notify"
)

// Server identity reported in the connect reply.
const (
	fmsVersion   = "FMS/3,5,7,7009"
	capabilities = 31
)

// command dispatches one AMF0 command message.
func (s *Session) command(m *chunkcodec.Message, body []byte, out *[]byte) error {
	if _, err := s.doc.Decode(body); err != nil && s.doc.Len() < 2 {
		return fmt.Errorf("%w: bad command: %w", ErrProtocol, err)
	}
	name := s.doc.At(0).Bytes()
	txid := s.doc.At(1).Number()
	if s.state != stateConnected && string(name) != "connect" {
		return fmt.Errorf("%w: %q before connect", ErrProtocol, name)
	}
	switch string(name) {
	case "connect":
		return s.cmdConnect(txid, out)
	case "createStream":
		return s.cmdCreateStream(txid, out)
	case "releaseStream", "FCUnpublish", "FCSubscribe", "FCUnsubscribe":
		if string(name) == "FCUnpublish" {
			s.cmdStatusCall(out, "onFCUnpublish", codeUnpublishSuccess, s.doc.At(3).Str())
		}
		if txid > 0 {
			s.sendResult(out, txid, 0, nil)
		}
		return nil
	case "FCPublish":
		s.cmdStatusCall(out, "onFCPublish", codePublishStart, s.doc.At(3).Str())
		if txid > 0 {
			s.sendResult(out, txid, 0, nil)
		}
		return nil
	case "publish":
		return s.cmdPublish(m.StreamID, txid, out)
	case "play":
		return s.cmdPlay(m.StreamID, out)
	case "deleteStream", "closeStream":
		id := m.StreamID
		if string(name) == "deleteStream" {
			id = uint32(s.doc.At(3).Number())
		}
		if ns := s.netStream(id); ns != nil {
			s.stopStream(ns, nil)
			if string(name) == "deleteStream" {
				s.streams[id-1] = nil
			}
		}
		return nil
	case "pause", "pauseRaw":
		return s.cmdPause(m.StreamID, out)
	case "receiveAudio", "receiveVideo":
		if ns := s.netStream(m.StreamID); ns != nil && ns.sub != nil {
			flag := s.doc.At(3).Bool()
			audio, video := !ns.subNoAudio(), !ns.subNoVideo()
			if string(name) == "receiveAudio" {
				audio = flag
			} else {
				video = flag
			}
			ns.setReceive(audio, video)
		}
		return nil
	case "getStreamLength":
		s.cmdGetStreamLength(txid, m.StreamID, out) // duration of a recording (vod.go)
		return nil
	case "seek":
		return s.cmdSeek(m.StreamID, out) // VOD only (vod.go)
	case "_checkbw", "_result", "_error", "onBWDone", "@setDataFrame", "ping":
		return nil
	}
	if fn := s.app.commands[string(name)]; fn != nil {
		return s.customCommand(fn, string(name), txid, m.StreamID, out)
	}
	s.sendError(out, txid, m.StreamID, codeCallFailed, "unknown command "+string(name))
	return nil
}

func (s *Session) netStream(id uint32) *netStream {
	if id >= 1 && int(id) <= len(s.streams) {
		return s.streams[id-1]
	}
	return nil
}

// appendCommand encodes an AMF0 command body as an RTMP message into out.
func (s *Session) appendCommand(out *[]byte, streamID uint32, body []byte) {
	*out = chunkcodec.AppendMessage(*out, chunkcodec.Header{
		ChunkStreamID: chunkcodec.ChunkStreamCommand,
		TypeID:        chunkcodec.TypeCommandAMF0,
		StreamID:      streamID,
	}, body, s.outChunk)
}

// sendResult sends _result(txid, null-or-props, extra...).
func (s *Session) sendResult(out *[]byte, txid float64, streamID uint32, extra func([]byte) []byte) {
	b := amf0.AppendCommandStart(s.loop.body[:0], "_result", txid)
	b = amf0.AppendNull(b)
	if extra != nil {
		b = extra(b)
	} else {
		b = amf0.AppendUndefined(b)
	}
	s.appendCommand(out, streamID, b)
	s.loop.body = b[:0]
}

func (s *Session) sendError(out *[]byte, txid float64, streamID uint32, code, desc string) {
	b := amf0.AppendCommandStart(s.loop.body[:0], "_error", txid)
	b = amf0.AppendNull(b)
	b = amf0.AppendStatusObject(b, "error", code, desc)
	s.appendCommand(out, streamID, b)
	s.loop.body = b[:0]
}

func (s *Session) sendStatus(out *[]byte, streamID uint32, level, code, desc string) {
	b := amf0.AppendOnStatus(s.loop.body[:0], 0, level, code, desc)
	s.appendCommand(out, streamID, b)
	s.loop.body = b[:0]
}

func (s *Session) cmdStatusCall(out *[]byte, name, code, desc string) {
	b := amf0.AppendCommandStart(s.loop.body[:0], name, 0)
	b = amf0.AppendNull(b)
	b = amf0.AppendStatusObject(b, "status", code, desc)
	s.appendCommand(out, 0, b)
	s.loop.body = b[:0]
}

func splitQuery(v string) (string, string) {
	name, q, _ := strings.Cut(v, "?")
	return name, q
}

func (s *Session) cmdConnect(txid float64, out *[]byte) error {
	if s.state == stateConnected {
		s.sendError(out, txid, 0, codeCallFailed, "already connected")
		return nil
	}
	obj := s.doc.At(2)
	appField := obj.Get("app").Str()
	appName, query := splitQuery(appField)
	appName = strings.Trim(appName, "/")
	if i := strings.IndexByte(appName, '/'); i >= 0 {
		// "app/instance": the app is the first element.
		appName = appName[:i]
	}
	req := ConnectRequest{
		App:      appName,
		Query:    query,
		TCURL:    obj.Get("tcUrl").Str(),
		FlashVer: obj.Get("flashVer").Str(),
		PageURL:  obj.Get("pageUrl").Str(),
		Object:   obj,
	}
	if req.Query == "" {
		_, req.Query = splitQuery(req.TCURL)
	}
	app := s.srv.apps[appName]
	if app == nil {
		s.sendError(out, txid, 0, codeConnectRejected, "unknown app "+appName)
		s.closeErr = fmt.Errorf("%w %q", ErrUnknownApp, appName)
		return nil
	}
	h := app.Handler
	if h == nil {
		h = BaseHandler{}
	}
	if err := h.OnConnect(s, &req); err != nil {
		s.sendError(out, txid, 0, codeConnectRejected, err.Error())
		s.closeErr = fmt.Errorf("connect rejected: %w", err)
		return nil
	}
	req.Object = amf0.Value{}
	s.app, s.appName, s.handler, s.connect = app, appName, h, req
	s.state = stateConnected

	cfg := &s.srv.cfg
	*out = chunkcodec.AppendWindowAckSize(*out, cfg.WindowAckSize)
	*out = chunkcodec.AppendSetPeerBandwidth(*out, cfg.WindowAckSize, chunkcodec.LimitDynamic)
	*out = chunkcodec.AppendSetChunkSize(*out, cfg.ChunkSize)
	s.outChunk = cfg.ChunkSize

	oe := obj.Get("objectEncoding").Number()
	fourCC := obj.Get("fourCcList")
	b := amf0.AppendCommandStart(s.loop.body[:0], "_result", txid)
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "fmsVer", fmsVersion)
	b = amf0.AppendPropNumber(b, "capabilities", capabilities)
	b = amf0.AppendPropNumber(b, "mode", 1)
	if fourCC.Valid() {
		// Enhanced RTMP: we forward every codec byte for byte, so echo the list.
		b = amf0.AppendKey(b, "fourCcList")
		b = amf0.AppendValue(b, fourCC)
	}
	b = amf0.AppendObjectEnd(b)
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "level", "status")
	b = amf0.AppendPropString(b, "code", codeConnectSuccess)
	b = amf0.AppendPropString(b, "description", "Connection succeeded.")
	b = amf0.AppendPropNumber(b, "objectEncoding", oe)
	b = amf0.AppendObjectEnd(b)
	s.appendCommand(out, 0, b)
	s.loop.body = b[:0]
	s.log.Debug("connect", "app", appName, "tcUrl", req.TCURL, "flashVer", req.FlashVer)
	return nil
}

func (s *Session) cmdCreateStream(txid float64, out *[]byte) error {
	// Reuse a freed slot first so a client that deletes and recreates keeps id 1.
	id := uint32(0)
	for i, ns := range s.streams {
		if ns == nil {
			id = uint32(i + 1)
			break
		}
	}
	if id == 0 {
		if len(s.streams) >= s.srv.cfg.MaxStreamsPerConn {
			s.sendError(out, txid, 0, codeCallFailed, ErrTooManyStreams.Error())
			return nil
		}
		s.streams = append(s.streams, nil)
		id = uint32(len(s.streams))
	}
	s.streams[id-1] = &netStream{id: id}
	s.sendResult(out, txid, 0, func(b []byte) []byte { return amf0.AppendNumber(b, float64(id)) })
	return nil
}

// streamFor returns the NetStream a publish or play names, creating it for lenient
// clients that skip createStream.
func (s *Session) streamFor(id uint32) (*netStream, error) {
	if id == 0 {
		id = 1
	}
	if ns := s.netStream(id); ns != nil {
		return ns, nil
	}
	if int(id) > s.srv.cfg.MaxStreamsPerConn {
		return nil, ErrTooManyStreams
	}
	for len(s.streams) < int(id) {
		s.streams = append(s.streams, nil)
	}
	ns := &netStream{id: id}
	s.streams[id-1] = ns
	return ns, nil
}

func (s *Session) cmdPublish(streamID uint32, txid float64, out *[]byte) error {
	ns, err := s.streamFor(streamID)
	if err != nil {
		return err
	}
	name, query := splitQuery(s.doc.At(3).Str())
	typ := s.doc.At(4).Str()
	if typ == "" {
		typ = "live"
	}
	req := StreamRequest{App: s.appName, Name: name, Query: query, Type: typ, Record: s.app.Record}
	if ns.pub != nil || ns.sub != nil {
		s.sendStatus(out, ns.id, "error", codePublishBadName, "stream is busy on this connection")
		return nil
	}
	if name == "" {
		s.sendStatus(out, ns.id, "error", codePublishBadName, "empty stream name")
		s.closeErr = fmt.Errorf("%w: empty publish name", ErrProtocol)
		return nil
	}
	if err := s.handler.OnPublish(s, &req); err != nil {
		s.sendStatus(out, ns.id, "error", codePublishRejected, err.Error())
		s.closeErr = fmt.Errorf("publish rejected: %w", err)
		return nil
	}
	if !recorder.ValidName(req.Name) {
		s.sendStatus(out, ns.id, "error", codePublishBadName, "invalid stream name")
		s.closeErr = fmt.Errorf("%w: invalid publish name %q", ErrProtocol, req.Name)
		return nil
	}
	e, prev, err := s.srv.reg.AcquirePublish(s, req.App, req.Name, streamOptions(s.app), s.app.Republish == RepublishReplace, &s.names)
	if err != nil {
		desc := req.Name + " is already being published"
		if errors.Is(err, ErrTooManyNames) {
			desc = "too many stream names on one connection"
		}
		s.sendStatus(out, ns.id, "error", codePublishBadName, desc)
		s.closeErr = fmt.Errorf("publish %s: %w", streamKey(req.App, req.Name), err)
		return nil
	}
	if old, _ := prev.(*Session); old != nil {
		s.log.Info("publisher replaced", "stream", e.Key, "old_conn", old.id)
		_ = old.Close()
	}
	ns.pub, ns.pubReq = e, req
	ns.media, ns.mediaAtTick, ns.lastMediaAt = 0, 0, time.Time{} // the idle clock starts at the next sweep
	ns.epoch = e.Fanout.BeginPublish()
	if e.Fanout.Subscribers() > 0 {
		// Players waiting (or left from the previous publisher) hear the news.
		body := amf0.AppendOnStatus(nil, 0, "status", codePlayPublish, req.Name+" is now published.")
		b := chunkcodec.AppendStreamBegin(nil, chunkcodec.PlayStreamID)
		b = chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeCommandAMF0, StreamID: chunkcodec.PlayStreamID}, body, s.srv.cfg.ChunkSize)
		e.Fanout.PublishControl(b)
	}
	*out = chunkcodec.AppendStreamBegin(*out, ns.id)
	s.sendStatus(out, ns.id, "status", codePublishStart, req.Name+" is now published.")
	s.log.Info("publish", "stream", e.Key, "type", typ, "record", req.Record)
	if req.Record {
		_ = s.startRecording(e) // a failure is logged; the live stream goes on
	}
	return nil
}

func (s *Session) cmdPlay(streamID uint32, out *[]byte) error {
	ns, err := s.streamFor(streamID)
	if err != nil {
		return err
	}
	name, query := splitQuery(s.doc.At(3).Str())
	reset := true
	if v := s.doc.At(6); v.Kind() == amf0.KindBoolean {
		reset = v.Bool()
	}
	req := StreamRequest{App: s.appName, Name: name, Query: query, Type: "rtmp"}
	if ns.pub != nil || ns.sub != nil || ns.vod != nil {
		s.sendStatus(out, ns.id, "error", codePlayFailed, "stream is busy on this connection")
		return nil
	}
	if err := s.handler.OnPlay(s, &req); err != nil {
		s.sendStatus(out, ns.id, "error", codePlayFailed, err.Error())
		s.closeErr = fmt.Errorf("play rejected: %w", err)
		return nil
	}
	if !recorder.ValidName(req.Name) {
		s.sendStatus(out, ns.id, "error", codePlayFailed, "invalid stream name")
		s.closeErr = fmt.Errorf("%w: invalid play name %q", ErrProtocol, req.Name)
		return nil
	}
	// VOD (vod.go): a name that is not live plays its newest recording; the
	// lookup runs off the loop and falls back to playLive when there is none.
	if s.startRTMPVOD(ns, req, reset, out) {
		return nil
	}
	s.playLive(ns, req, reset, out)
	return nil
}

// playLive subscribes ns to the live stream req.Name (split from cmdPlay so
// that a VOD lookup that finds nothing can continue here; vod.go).
func (s *Session) playLive(ns *netStream, req StreamRequest, reset bool, out *[]byte) {
	e, err := s.srv.reg.AcquirePlay(s.appName, req.Name, streamOptions(s.app), &s.names)
	if err != nil {
		s.sendStatus(out, ns.id, "error", codePlayNotFound, "stream "+req.Name+" is not live")
		if errors.Is(err, ErrTooManyNames) {
			s.closeErr = err
		}
		return
	}
	if ns.id != chunkcodec.PlayStreamID {
		s.log.Debug("play on a message stream other than 1; media is sent on stream 1", "stream_id", ns.id)
	}
	*out = s.appendPlayStart(*out, ns.id, req.Name, reset)

	// Everything above must reach the player before the media the subscription
	// sends at once.
	_, _ = s.conn.Write(*out)
	*out = (*out)[:0]

	ns.play, ns.playReq = e, req
	ns.sub = e.Fanout.Subscribe(&s.loop.fan, s.conn, fanout.SubscriberOptions{})
	s.log.Info("play", "stream", e.Key)
}

// appendPlayStart appends what a player receives when its play starts, live or
// recorded: Stream Is Recorded, Stream Begin, NetStream.Play.Reset (when the
// play asked for a reset), NetStream.Play.Start and |RtmpSampleAccess(true,
// true), as Flash servers send. (No NetStream.Data.Start data message:
// FFmpeg's FLV demuxer would turn it into a spurious data stream.) Loop-only.
func (s *Session) appendPlayStart(out []byte, sid uint32, name string, reset bool) []byte {
	out = chunkcodec.AppendStreamIsRecorded(out, sid)
	out = chunkcodec.AppendStreamBegin(out, sid)
	if reset {
		s.sendStatus(&out, sid, "status", codePlayReset, "Playing and resetting "+name+".")
	}
	s.sendStatus(&out, sid, "status", codePlayStart, "Started playing "+name+".")
	b := amf0.AppendString(s.loop.body[:0], "|RtmpSampleAccess")
	b = amf0.AppendBoolean(b, true)
	b = amf0.AppendBoolean(b, true)
	out = chunkcodec.AppendMessage(out, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeDataAMF0, StreamID: sid}, b, s.outChunk)
	s.loop.body = b[:0]
	return out
}

func (s *Session) cmdPause(streamID uint32, out *[]byte) error {
	ns := s.netStream(streamID)
	if ns != nil && ns.vod != nil {
		return s.vodPause(ns, out) // vod.go
	}
	if ns == nil || ns.sub == nil {
		return nil
	}
	pause := s.doc.At(3).Bool()
	ns.sub.SetPaused(pause)
	if pause {
		s.sendStatus(out, ns.id, "status", codePauseNotify, "Paused "+ns.playReq.Name+".")
	} else {
		s.sendStatus(out, ns.id, "status", codeUnpauseNotify, "Unpaused "+ns.playReq.Name+".")
	}
	return nil
}

func (ns *netStream) subNoAudio() bool { return ns.noAudio }
func (ns *netStream) subNoVideo() bool { return ns.noVideo }
func (ns *netStream) setReceive(audio, video bool) {
	ns.noAudio, ns.noVideo = !audio, !video
	ns.sub.SetReceive(audio, video)
}

// Call is a custom command invocation.
type Call struct {
	Session       *Session
	Name          string
	TransactionID float64
	StreamID      uint32
	doc           *amf0.Document
	reply         []byte
	replied       bool
	buf           *bytebufferpool.ByteBuffer // reply scratch from the server's pool
}

// Object returns the command object (often null). Valid during the handler only.
func (c *Call) Object() amf0.Value { return c.doc.At(2) }

// NumArgs returns the number of arguments after the command object.
func (c *Call) NumArgs() int {
	if n := c.doc.Len() - 3; n > 0 {
		return n
	}
	return 0
}

// Arg returns argument i (after the command object). Valid during the handler only.
func (c *Call) Arg(i int) amf0.Value { return c.doc.At(3 + i) }

// Reply sets the _result values: nil, bool, string, numbers, and
// map[string]any (encoded as an object) are supported.
func (c *Call) Reply(values ...any) error {
	if c.buf == nil {
		c.buf = c.Session.srv.replies.Get()
	}
	b := c.buf.B[:0]
	for _, v := range values {
		var err error
		if b, err = amf0.AppendAny(b, v); err != nil {
			return err
		}
	}
	c.buf.B = b
	c.reply, c.replied = b, true
	return nil
}

func (s *Session) customCommand(fn CommandFunc, name string, txid float64, streamID uint32, out *[]byte) error {
	c := &Call{Session: s, Name: name, TransactionID: txid, StreamID: streamID, doc: &s.doc}
	defer func() {
		if c.buf != nil {
			s.srv.replies.Put(c.buf)
		}
	}()
	if err := fn(c); err != nil {
		s.sendError(out, txid, streamID, codeCallFailed, err.Error())
		return nil
	}
	if txid == 0 && !c.replied {
		return nil
	}
	b := amf0.AppendCommandStart(s.loop.body[:0], "_result", txid)
	b = amf0.AppendNull(b)
	b = append(b, c.reply...)
	if !c.replied {
		b = amf0.AppendUndefined(b)
	}
	s.appendCommand(out, streamID, b)
	s.loop.body = b[:0]
	return nil
}
