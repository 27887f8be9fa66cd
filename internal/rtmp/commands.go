package rtmp

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/rtmpmsg"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
)

// Server identity reported in the connect reply.
const (
	fmsVersion   = "FMS/3,5,7,7009"
	capabilities = 31
)

// command dispatches one AMF0 command message.
func (s *Session) command(m *chunkcodec.Message, body []byte, out *[]byte) error {
	if _, err := s.doc.Decode(body); err != nil && s.doc.Len() < 2 {
		return fmt.Errorf("%w: bad command: %w", engine.ErrProtocol, err)
	}
	name := s.doc.At(0).Bytes()
	txid := s.doc.At(1).Number()
	if s.state != stateConnected && string(name) != "connect" {
		return fmt.Errorf("%w: %q before connect", engine.ErrProtocol, name)
	}
	switch string(name) {
	case "connect":
		return s.cmdConnect(txid, out)
	case "createStream":
		return s.cmdCreateStream(txid, out)
	case "releaseStream", "FCUnpublish", "FCSubscribe", "FCUnsubscribe":
		if string(name) == "FCUnpublish" {
			s.cmdStatusCall(out, "onFCUnpublish", rtmpmsg.CodeUnpublishSuccess, s.doc.At(3).Str())
		}
		if txid > 0 {
			s.sendResult(out, txid, 0, nil)
		}
		return nil
	case "FCPublish":
		s.cmdStatusCall(out, "onFCPublish", rtmpmsg.CodePublishStart, s.doc.At(3).Str())
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
		s.cmdGetStreamLength(txid, m.StreamID, out) // duration of a recording (vodcmd.go)
		return nil
	case "seek":
		return s.cmdSeek(m.StreamID, out) // VOD only (vodcmd.go)
	case "_checkbw", "_result", "_error", "onBWDone", "@setDataFrame", "ping":
		return nil
	}
	return s.customCommand(string(name), txid, m.StreamID, out)
}

func (s *Session) netStream(id uint32) *netStream {
	if id >= 1 && int(id) <= len(s.streams) {
		return s.streams[id-1]
	}
	return nil
}

// appendCommand encodes an AMF0 command body as an RTMP message into out.
func (s *Session) appendCommand(out *[]byte, streamID uint32, body []byte) {
	*out = rtmpmsg.AppendCommand(*out, streamID, s.outChunk, body)
}

// sendResult sends _result(txid, null-or-props, extra...).
func (s *Session) sendResult(out *[]byte, txid float64, streamID uint32, extra func([]byte) []byte) {
	b := amf0.AppendCommandStart(s.Loop.Body[:0], "_result", txid)
	b = amf0.AppendNull(b)
	if extra != nil {
		b = extra(b)
	} else {
		b = amf0.AppendUndefined(b)
	}
	s.appendCommand(out, streamID, b)
	s.Loop.Body = b[:0]
}

func (s *Session) sendError(out *[]byte, txid float64, streamID uint32, code, desc string) {
	b := amf0.AppendCommandStart(s.Loop.Body[:0], "_error", txid)
	b = amf0.AppendNull(b)
	b = amf0.AppendStatusObject(b, "error", code, desc)
	s.appendCommand(out, streamID, b)
	s.Loop.Body = b[:0]
}

func (s *Session) sendStatus(out *[]byte, streamID uint32, level, code, desc string) {
	*out = rtmpmsg.AppendStatus(*out, &s.Loop.Body, streamID, s.outChunk, level, code, desc)
}

func (s *Session) cmdStatusCall(out *[]byte, name, code, desc string) {
	b := amf0.AppendCommandStart(s.Loop.Body[:0], name, 0)
	b = amf0.AppendNull(b)
	b = amf0.AppendStatusObject(b, "status", code, desc)
	s.appendCommand(out, 0, b)
	s.Loop.Body = b[:0]
}

func splitQuery(v string) (string, string) {
	name, q, _ := strings.Cut(v, "?")
	return name, q
}

func (s *Session) cmdConnect(txid float64, out *[]byte) error {
	if s.state == stateConnected {
		s.sendError(out, txid, 0, rtmpmsg.CodeCallFailed, "already connected")
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
	req := engine.ConnectRequest{
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
	app := s.Shared.App(appName)
	if app == nil {
		s.sendError(out, txid, 0, rtmpmsg.CodeConnectRejected, "unknown app "+appName)
		s.closeErr = fmt.Errorf("%w %q", engine.ErrUnknownApp, appName)
		return nil
	}
	s.App = app // the hooks run with the app known; unset again on refusal
	v := s.AuthorizeConnect(&req)
	if v.Pending != nil {
		s.Hold(v.Pending, func(refused error, _ string) {
			s.resumeWith(func(out *[]byte) { s.connectDecided(txid, appName, &req, refused, out) })
		})
		return nil
	}
	s.connectDecided(txid, appName, &req, v.Refused, out)
	return nil
}

// connectDecided answers connect once its hook has decided (loop-only).
func (s *Session) connectDecided(txid float64, appName string, req *engine.ConnectRequest, refused error, out *[]byte) {
	if refused != nil {
		s.App = nil
		s.sendError(out, txid, 0, rtmpmsg.CodeConnectRejected, refused.Error())
		s.closeErr = fmt.Errorf("connect rejected: %w", refused)
		return
	}
	obj := req.Object
	req.Object = amf0.Value{}
	s.AppName, s.Connect = appName, *req
	s.state = stateConnected
	s.SetActivity(engine.RoleNone, "rtmp", appName, "")

	cfg := &s.Shared.Limits
	*out = chunkcodec.AppendWindowAckSize(*out, cfg.WindowAckSize)
	*out = chunkcodec.AppendSetPeerBandwidth(*out, cfg.WindowAckSize, chunkcodec.LimitDynamic)
	*out = chunkcodec.AppendSetChunkSize(*out, cfg.ChunkSize)
	s.outChunk = cfg.ChunkSize

	oe := obj.Get("objectEncoding").Number()
	fourCC := obj.Get("fourCcList")
	b := amf0.AppendCommandStart(s.Loop.Body[:0], "_result", txid)
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
	b = amf0.AppendPropString(b, "code", rtmpmsg.CodeConnectSuccess)
	b = amf0.AppendPropString(b, "description", "Connection succeeded.")
	b = amf0.AppendPropNumber(b, "objectEncoding", oe)
	b = amf0.AppendObjectEnd(b)
	s.appendCommand(out, 0, b)
	s.Loop.Body = b[:0]
	s.Log.Debug("connect", "app", appName, "tcUrl", req.TCURL, "flashVer", req.FlashVer)
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
		if len(s.streams) >= s.Shared.Limits.MaxStreamsPerConn {
			s.sendError(out, txid, 0, rtmpmsg.CodeCallFailed, engine.ErrTooManyStreams.Error())
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
	if int(id) > s.Shared.Limits.MaxStreamsPerConn {
		return nil, engine.ErrTooManyStreams
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
	req := engine.StreamRequest{App: s.AppName, Name: name, Query: query, Type: typ, Record: s.App.Record, Started: time.Now()}
	if ns.pub != nil || ns.sub != nil {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePublishBadName, "stream is busy on this connection")
		return nil
	}
	if name == "" {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePublishBadName, "empty stream name")
		s.closeErr = fmt.Errorf("%w: empty publish name", engine.ErrProtocol)
		return nil
	}
	s.authorize(ns, &req, true, out, func(out *[]byte) { s.publishAuthorized(ns, req, out) })
	return nil
}

// publishAuthorized makes ns publish req once its hook has accepted it
// (loop-only).
func (s *Session) publishAuthorized(ns *netStream, req engine.StreamRequest, out *[]byte) {
	e, prev, err := s.Shared.Reg.AcquirePublish(s, req.App, req.Name, s.App.StreamOptions(), s.App.Replace, &s.Names)
	if err != nil {
		desc := req.Name + " is already being published"
		if errors.Is(err, registry.ErrTooManyNames) {
			desc = "too many stream names on one connection"
		}
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePublishBadName, desc)
		s.closeErr = fmt.Errorf("publish %s: %w", registry.Key(req.App, req.Name), err)
		return
	}
	if old, _ := prev.(*Session); old != nil {
		s.Log.Info("publisher replaced", "stream", e.Key, "old_conn", old.ID)
		_ = old.Conn.Close()
	}
	ns.pub, ns.pubReq = e, req
	s.SetActivity(engine.RolePublisher, "rtmp", req.App, req.Name)
	ns.media, ns.mediaAtTick, ns.lastMediaAt = 0, 0, time.Time{} // the idle clock starts at the next sweep
	ns.epoch = e.Fanout.BeginPublish()
	if d, ok := s.Conn.(netpoll.ReadDeferrer); ok && s.Shared.Limits.DeferPublisherReads {
		if err := d.DeferReads(true); err != nil {
			s.Log.Debug("publisher reads stay prompt", "err", err)
		} else {
			e.Fanout.SetBurstInput(ns.epoch, true)
		}
	}
	if e.Fanout.Subscribers() > 0 {
		// Players waiting (or left from the previous publisher) hear the news.
		e.Fanout.PublishControl(rtmpmsg.AppendPublishNotify(nil, s.Shared.Limits.ChunkSize, req.Name))
	}
	*out = chunkcodec.AppendStreamBegin(*out, ns.id)
	s.sendStatus(out, ns.id, "status", rtmpmsg.CodePublishStart, req.Name+" is now published.")
	s.Log.Info("publish", "stream", e.Key, "type", req.Type, "record", req.Record)
	if req.Record {
		_ = s.startRecording(e) // a failure is logged; the live stream goes on
	}
	s.Hooks().OnPublished(&s.Session, &ns.pubReq, e.Fanout)
}

// authorize runs the app's hook for a publish or play on ns and checks the
// name it leaves (engine.Session.Authorize), then runs then, or answers the
// refusal (the error status, and the reason to close). A hook that defers
// holds the step (and the bytes that follow) until its decision (loop-only).
func (s *Session) authorize(ns *netStream, req *engine.StreamRequest, publish bool, out *[]byte, then func(out *[]byte)) {
	v := s.Authorize(req, publish)
	if v.Pending == nil {
		if s.accepted(ns, req, publish, v.Refused, v.BadName, out) {
			then(out)
		}
		return
	}
	s.Hold(v.Pending, func(refused error, rename string) {
		if refused == nil && rename != "" {
			req.Name = rename
		}
		s.resumeWith(func(out *[]byte) {
			if s.accepted(ns, req, publish, refused, refused == nil && !recorder.ValidName(req.Name), out) {
				then(out)
			}
		})
	})
}

// accepted reports whether a publish or play may go on, answering it when
// it may not.
func (s *Session) accepted(ns *netStream, req *engine.StreamRequest, publish bool, refused error, badName bool, out *[]byte) bool {
	verb, rejected, bad := "play", rtmpmsg.CodePlayFailed, rtmpmsg.CodePlayFailed
	if publish {
		verb, rejected, bad = "publish", rtmpmsg.CodePublishRejected, rtmpmsg.CodePublishBadName
	}
	switch {
	case errors.Is(refused, engine.ErrStreamNotFound) && !publish:
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePlayNotFound, "stream "+req.Name+" not found")
		s.closeErr = fmt.Errorf("play %s: %w", req.Name, refused)
	case refused != nil:
		s.sendStatus(out, ns.id, "error", rejected, refused.Error())
		s.closeErr = fmt.Errorf("%s rejected: %w", verb, refused)
	case badName:
		s.sendStatus(out, ns.id, "error", bad, "invalid stream name")
		s.closeErr = fmt.Errorf("%w: invalid %s name %q", engine.ErrProtocol, verb, req.Name)
	default:
		return true
	}
	return false
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
	req := engine.StreamRequest{App: s.AppName, Name: name, Query: query, Type: "rtmp", Started: time.Now()}
	if ns.pub != nil || ns.sub != nil || ns.vod != nil {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePlayFailed, "stream is busy on this connection")
		return nil
	}
	s.authorize(ns, &req, false, out, func(out *[]byte) {
		// VOD (vodcmd.go): a name that is not live plays its newest
		// recording; the lookup runs off the loop and falls back to
		// playLive when there is none.
		if !s.startVOD(ns, req, reset, out) {
			s.playLive(ns, req, reset, out)
		}
	})
	return nil
}

// playLive subscribes ns to the live stream req.Name (split from cmdPlay so
// that a VOD lookup that finds nothing can continue here; vodcmd.go).
func (s *Session) playLive(ns *netStream, req engine.StreamRequest, reset bool, out *[]byte) {
	e, err := s.Shared.Reg.AcquirePlay(s.AppName, req.Name, s.App.StreamOptions(), &s.Names)
	if err != nil {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePlayNotFound, "stream "+req.Name+" is not live")
		if errors.Is(err, registry.ErrTooManyNames) {
			s.closeErr = err
		}
		return
	}
	if ns.id != chunkcodec.PlayStreamID {
		s.Log.Debug("play on a message stream other than 1; media is sent on stream 1", "stream_id", ns.id)
	}
	*out = rtmpmsg.AppendPlayStart(*out, &s.Loop.Body, ns.id, s.outChunk, req.Name, reset)

	// Everything above must reach the player before the media the subscription
	// sends at once.
	_, _ = s.Conn.Write(*out)
	*out = (*out)[:0]

	ns.play, ns.playReq = e, req
	s.SetActivity(engine.RolePlayer, "rtmp", e.App, e.Name)
	ns.sub = e.Fanout.Subscribe(&s.Loop.Fan, s.Conn, fanout.SubscriberOptions{OnFirstFrame: s.FirstFrameHook("rtmp", req.Started)})
	s.Log.Info("play", "stream", e.Key)
}

func (s *Session) cmdPause(streamID uint32, out *[]byte) error {
	ns := s.netStream(streamID)
	if ns != nil && ns.vod != nil {
		return s.vodPause(ns, out) // vodcmd.go
	}
	if ns == nil || ns.sub == nil {
		return nil
	}
	pause := s.doc.At(3).Bool()
	ns.sub.SetPaused(pause)
	if pause {
		s.sendStatus(out, ns.id, "status", rtmpmsg.CodePauseNotify, "Paused "+ns.playReq.Name+".")
	} else {
		s.sendStatus(out, ns.id, "status", rtmpmsg.CodeUnpauseNotify, "Unpaused "+ns.playReq.Name+".")
	}
	return nil
}

func (ns *netStream) subNoAudio() bool { return ns.noAudio }
func (ns *netStream) subNoVideo() bool { return ns.noVideo }
func (ns *netStream) setReceive(audio, video bool) {
	ns.noAudio, ns.noVideo = !audio, !video
	ns.sub.SetReceive(audio, video)
}

// customCommand runs the app's custom command name, or answers that there
// is none.
func (s *Session) customCommand(name string, txid float64, streamID uint32, out *[]byte) error {
	c := engine.NewCall(&s.Shared.Replies, name, txid, streamID, &s.doc)
	defer c.Release()
	handled, err := s.Hooks().Command(&s.Session, c)
	if !handled {
		s.sendError(out, txid, streamID, rtmpmsg.CodeCallFailed, "unknown command "+name)
		return nil
	}
	if err != nil {
		s.sendError(out, txid, streamID, rtmpmsg.CodeCallFailed, err.Error())
		return nil
	}
	reply, replied := c.Reply()
	if txid == 0 && !replied {
		return nil
	}
	b := amf0.AppendCommandStart(s.Loop.Body[:0], "_result", txid)
	b = amf0.AppendNull(b)
	b = append(b, reply...)
	if !replied {
		b = amf0.AppendUndefined(b)
	}
	s.appendCommand(out, streamID, b)
	s.Loop.Body = b[:0]
	return nil
}
