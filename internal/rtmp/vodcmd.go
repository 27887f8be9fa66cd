package rtmp

import (
	"fmt"
	"math"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/rtmpmsg"
	"github.com/quaverlive/quaver/internal/vod"
	"github.com/quaverlive/quaver/recorder"
)

// Plays of recordings (internal/vod) over RTMP: where they start and how
// their controls (buffer length, seek, pause) reach the play.

// startVOD is cmdPlay's VOD hook. It runs on the loop after the handler
// accepted the play and the name was validated. It returns false when the play
// is live: a publisher is on air, the start argument asks for live only (-1,
// as -1000 in the milliseconds FFmpeg and Flash send), or the recorder's index
// (memory only, no disk I/O) has no recording of that name; the play then
// waits for a publisher. Otherwise it has answered the play: started the
// recording, or refused it when the VOD budget is spent.
func (s *Session) startVOD(ns *netStream, req engine.StreamRequest, reset bool, out *[]byte) bool {
	start := s.doc.At(4).Number()
	if !s.App.VOD || start == -1000 || start == -1 {
		return false
	}
	if s.Shared.Reg.Live(s.AppName, req.Name) {
		return false
	}
	rec, err := vod.Lookup(s.Shared.Rec, s.AppName, req.Name)
	if err != nil {
		return false
	}
	if !vod.Admit(&s.Session) {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodePlayFailed, "too many recording plays, try again later")
		return true
	}
	v := vod.New(&s.Session, vod.RTMP, req, rec)
	v.Reset, v.StartMs, v.StreamID, v.ChunkSize = reset, start, ns.id, s.outChunk
	v.OnBegin = s.vodBegin
	v.OnNotFound = func(v *vod.Play) { s.vodNotFound(ns, v) }
	if ns.bufferMs > 0 {
		v.SetBufferLength(ns.bufferMs)
	}
	ns.vod = v
	s.SetActivity(engine.RolePlayer, "rtmp", req.App, req.Name)
	v.Start()
	return true
}

// vodBegin sends the play's start and the recording's metadata once the file
// is open (loop-only).
func (s *Session) vodBegin(v *vod.Play) bool {
	out := rtmpmsg.AppendPlayStart(s.Loop.Out[:0], &s.Loop.Body, v.StreamID, v.ChunkSize, v.Request().Name, v.Reset)
	if meta := v.File().OnMetaData(); len(meta) > 0 {
		out = chunkcodec.AppendMessage(out, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeDataAMF0, StreamID: v.StreamID}, meta, v.ChunkSize)
	}
	_, _ = s.Conn.Write(out)
	s.Loop.Out = out[:0]
	return true
}

// vodNotFound continues a play whose recording cannot be read as a live play
// that waits for a publisher (loop-only).
func (s *Session) vodNotFound(ns *netStream, v *vod.Play) {
	if ns.vod != v {
		return
	}
	ns.vod = nil
	out := s.Loop.Out[:0]
	s.playLive(ns, *v.Request(), v.Reset, &out)
	if len(out) > 0 {
		_, _ = s.Conn.Write(out)
	}
	s.Loop.Out = out[:0]
}

// setBufferLength applies a Set Buffer Length event (loop-only).
func (s *Session) setBufferLength(streamID, ms uint32) {
	ns := s.netStream(streamID)
	if ns == nil {
		return
	}
	ns.bufferMs = ms
	if ns.vod != nil {
		ns.vod.SetBufferLength(ms)
	}
}

// cmdSeek handles seek(ms) on a VOD play: the play repositions; what it
// prepared before and has not been written yet is dropped.
func (s *Session) cmdSeek(streamID uint32, out *[]byte) error {
	ns := s.netStream(streamID)
	if ns == nil {
		return nil
	}
	if ns.vod == nil {
		s.sendStatus(out, ns.id, "error", rtmpmsg.CodeSeekFailed, "seeking is only possible in recordings")
		return nil
	}
	v := ns.vod
	ms := s.doc.At(3).Number()
	if ms < 0 || math.IsNaN(ms) {
		ms = 0
	}
	v.Seek(ms)
	*out = chunkcodec.AppendStreamBegin(*out, ns.id)
	s.sendStatus(out, ns.id, "status", rtmpmsg.CodeSeekNotify, fmt.Sprintf("Seeking %d (stream ID: %d).", int64(ms), ns.id))
	s.sendStatus(out, ns.id, "status", rtmpmsg.CodePlayStart, "Started playing "+v.Request().Name+".")
	return nil
}

// vodPause handles pause/unpause on a VOD play: the pacing clock stops.
func (s *Session) vodPause(ns *netStream, out *[]byte) error {
	v := ns.vod
	pause := s.doc.At(3).Bool()
	v.SetPaused(pause)
	if pause {
		s.sendStatus(out, ns.id, "status", rtmpmsg.CodePauseNotify, "Paused "+v.Request().Name+".")
	} else {
		s.sendStatus(out, ns.id, "status", rtmpmsg.CodeUnpauseNotify, "Unpaused "+v.Request().Name+".")
	}
	return nil
}

// cmdGetStreamLength answers getStreamLength(name): the duration in seconds of
// the recording a play of name would play, 0 for live streams and unknown
// names. The answer comes from the recorder's in-memory index: no disk I/O.
func (s *Session) cmdGetStreamLength(txid float64, streamID uint32, out *[]byte) {
	name, _ := splitQuery(s.doc.At(3).Str())
	d := 0.0
	if ns := s.netStream(streamID); ns != nil && ns.vod != nil && ns.vod.Request().Name == name && ns.vod.Duration() > 0 {
		d = ns.vod.Duration()
	} else if s.App.VOD && name != "" && recorder.ValidName(name) && !s.Shared.Reg.Live(s.AppName, name) {
		if rec, err := vod.Lookup(s.Shared.Rec, s.AppName, name); err == nil {
			d = rec.Duration
		}
	}
	s.sendResult(out, txid, 0, func(b []byte) []byte { return amf0.AppendNumber(b, d) })
}
