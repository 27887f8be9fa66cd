package server

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// VOD commands and the play hooks: where a play of a recording starts and
// how its controls (buffer length, seek, pause) reach the play's goroutine.

// startRTMPVOD is cmdPlay's VOD hook. It runs on the loop after the handler
// accepted the play and the name was validated. It returns false when the play
// is live: a publisher is on air, the start argument asks for live only (-1,
// as -1000 in the milliseconds FFmpeg and Flash send), or the recorder's index
// (memory only, no disk I/O) has no recording of that name; the play then
// waits for a publisher. Otherwise it has answered the play: started the
// recording, or refused it when the VOD budget is spent.
func (s *Session) startRTMPVOD(ns *netStream, req StreamRequest, reset bool, out *[]byte) bool {
	start := s.doc.At(4).Number()
	if start == -1000 || start == -1 {
		return false
	}
	if s.srv.liveNow(s.appName, req.Name) {
		return false
	}
	rec, err := lookupRecording(s.srv.rec, s.appName, req.Name)
	if err != nil {
		return false
	}
	if !s.srv.admitVOD(s) {
		s.sendStatus(out, ns.id, "error", codePlayFailed, "too many recording plays, try again later")
		return true
	}
	v := s.srv.newVOD(s, vodRTMP, s.appName, req, rec)
	v.ns, v.reset, v.startMs, v.sid, v.chunk = ns, reset, start, ns.id, s.outChunk
	v.bufMs = ns.bufferMs
	ns.vod = v
	v.start()
	return true
}

// startHTTPVOD is play's VOD hook for HTTP-FLV and WebSocket-FLV: the stream is
// not live, so play its recording (found in the recorder's index, without disk
// I/O on the loop) or fail with 404 at once.
func (h *httpSession) startHTTPVOD(req StreamRequest, isWS bool, fail func(int, string, uint16, string) error) error {
	rec, err := lookupRecording(h.srv.rec, h.appName, req.Name)
	if err != nil {
		return fail(404, "Not Found", wsflv.CloseNotFound, "stream "+h.appName+"/"+req.Name+" is not live")
	}
	if !h.srv.admitVOD(h.Session) {
		return fail(503, "Service Unavailable", wsflv.CloseTryAgainLater, "too many recording plays, try again later")
	}
	kind := vodHTTP
	if isWS {
		kind = vodWS
	}
	v := h.srv.newVOD(h.Session, kind, h.appName, req, rec)
	v.h, v.fail = h, fail
	v.head = string(h.req.Method) == "HEAD"
	if q, err := url.ParseQuery(req.Query); err == nil {
		if sec, err := strconv.ParseFloat(q.Get("start"), 64); err == nil && sec > 0 && sec < 1e9 {
			v.startMs = sec * 1000
		}
	}
	h.vod = v
	h.state = httpStream // ignore further input while the file opens
	v.start()
	return nil
}

// setBufferLength applies a Set Buffer Length event (loop-only).
func (s *Session) setBufferLength(streamID, ms uint32) {
	ns := s.netStream(streamID)
	if ns == nil {
		return
	}
	ns.bufferMs = ms
	if v := ns.vod; v != nil {
		v.mu.Lock()
		v.bufMs = ms
		v.mu.Unlock()
		v.signal()
	}
}

// cmdSeek handles seek(ms) on a VOD play: the goroutine repositions; what it
// sent before and has not been written yet is dropped.
func (s *Session) cmdSeek(streamID uint32, out *[]byte) error {
	ns := s.netStream(streamID)
	if ns == nil {
		return nil
	}
	if ns.vod == nil {
		s.sendStatus(out, ns.id, "error", codeSeekFailed, "seeking is only possible in recordings")
		return nil
	}
	v := ns.vod
	ms := s.doc.At(3).Number()
	if ms < 0 || math.IsNaN(ms) {
		ms = 0
	}
	v.gen++
	v.mu.Lock()
	v.seekMs, v.seekGen = ms, v.gen
	v.mu.Unlock()
	v.signal()
	*out = chunkcodec.AppendStreamBegin(*out, ns.id)
	s.sendStatus(out, ns.id, "status", codeSeekNotify, fmt.Sprintf("Seeking %d (stream ID: %d).", int64(ms), ns.id))
	s.sendStatus(out, ns.id, "status", codePlayStart, "Started playing "+v.req.Name+".")
	return nil
}

// vodPause handles pause/unpause on a VOD play: the pacing clock stops.
func (s *Session) vodPause(ns *netStream, out *[]byte) error {
	v := ns.vod
	pause := s.doc.At(3).Bool()
	v.mu.Lock()
	v.paused = pause
	v.mu.Unlock()
	v.signal()
	if pause {
		s.sendStatus(out, ns.id, "status", codePauseNotify, "Paused "+v.req.Name+".")
	} else {
		s.sendStatus(out, ns.id, "status", codeUnpauseNotify, "Unpaused "+v.req.Name+".")
	}
	return nil
}

// cmdGetStreamLength answers getStreamLength(name): the duration in seconds of
// the recording a play of name would play, 0 for live streams and unknown
// names. The answer comes from the recorder's in-memory index: no disk I/O.
func (s *Session) cmdGetStreamLength(txid float64, streamID uint32, out *[]byte) {
	name, _ := splitQuery(s.doc.At(3).Str())
	d := 0.0
	if ns := s.netStream(streamID); ns != nil && ns.vod != nil && ns.vod.req.Name == name && ns.vod.duration > 0 {
		d = ns.vod.duration
	} else if name != "" && recorder.ValidName(name) && !s.srv.liveNow(s.appName, name) {
		if rec, err := lookupRecording(s.srv.rec, s.appName, name); err == nil {
			d = rec.Duration
		}
	}
	s.sendResult(out, txid, 0, func(b []byte) []byte { return amf0.AppendNumber(b, d) })
}

// lookupRecording resolves a play name to a recording in the recorder's index:
// the name as given, without an "flv:" prefix, and with ".flv" added (FFmpeg
// strips it from RTMP play paths; the HTTP route strips it from the URL).
func lookupRecording(m *recorder.Manager, app, name string) (recorder.Info, error) {
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
