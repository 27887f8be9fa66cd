package httpflv

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"

	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/vod"
	"github.com/quaverlive/quaver/wsflv"
)

// startVOD is play's hook for a name that is not live: play its recording
// (found in the recorder's index, without disk I/O on the loop) or fail with
// 404 at once.
func (h *Session) startVOD(req engine.StreamRequest, isWS bool) error {
	rec, err := vod.Lookup(h.Shared.Rec, h.AppName, req.Name)
	if err != nil || !h.App.VOD {
		return h.fail(isWS, 404, "Not Found", wsflv.CloseNotFound, "stream "+h.AppName+"/"+req.Name+" is not live")
	}
	if !vod.Admit(&h.Session) {
		return h.fail(isWS, 503, "Service Unavailable", wsflv.CloseTryAgainLater, "too many recording plays, try again later")
	}
	kind := vod.HTTP
	if isWS {
		kind = vod.WS
	}
	v := vod.New(&h.Session, kind, req, rec)
	if !isWS {
		v.SetRange(rangeField(&h.req))
	}
	head := string(h.req.Method) == "HEAD"
	v.OnBegin = func(v *vod.Play) bool { return h.vodBegin(v, head) }
	v.OnNotFound = func(v *vod.Play) {
		h.vod = nil
		_ = h.fail(isWS, 404, "Not Found", wsflv.CloseNotFound, "stream "+h.AppName+"/"+v.Request().Name+" is not live")
	}
	if q, err := url.ParseQuery(req.Query); err == nil {
		if sec, err := strconv.ParseFloat(q.Get("start"), 64); err == nil && sec > 0 && sec < 1e9 {
			v.StartMs = sec * 1000
		}
	}
	h.vod = v
	h.SetActivity(engine.RolePlayer, req.Type, h.AppName, req.Name)
	h.state = httpStream // ignore further input while the file opens
	v.Start()
	return nil
}

// rangeField returns the value of r's Range field that a recording play
// answers, or nil. Without validators (no ETag, no Last-Modified) no If-Range
// matches, so a Range with one is ignored (RFC 9110 section 13.1.5); so are
// several Range fields, whose values would combine into several ranges.
func rangeField(r *wsflv.Request) []byte {
	if r.HeaderValue("If-Range") != nil {
		return nil
	}
	var v []byte
	n := 0
	for _, f := range r.Headers() {
		if bytes.EqualFold(f.Name, []byte("Range")) {
			v = f.Value
			n++
		}
	}
	if n != 1 {
		return nil
	}
	return v
}

// Response header lines of a recording played over HTTP: it has a length
// and takes byte ranges, which a page on another origin may read.
const vodHeaders = "Content-Type: video/x-flv\r\nAccept-Ranges: bytes\r\nCache-Control: no-cache, no-store\r\nConnection: close\r\n" +
	corsHeaders + "Access-Control-Expose-Headers: Content-Range, Accept-Ranges\r\n"

// vodBegin sends the response head (HTTP-FLV, with the length and, for a
// Range, the part's place) or completes the upgrade (WebSocket-FLV) once the
// recording is open (loop-only). It returns false when the play ends here (a
// HEAD request, an unsatisfiable range, a failed upgrade).
func (h *Session) vodBegin(v *vod.Play, head bool) bool {
	if v.Kind() == vod.WS {
		return h.upgrade() == nil
	}
	// The length is known, so it is sent: players can show progress, and
	// FFmpeg reports a close-delimited body of unknown size as truncated.
	r, res, size := v.Part()
	b := h.Loop.Out[:0]
	switch res {
	case wsflv.RangePartial:
		b = append(b, "HTTP/1.1 206 Partial Content\r\nContent-Range: "...)
		b = wsflv.AppendContentRange(b, r, res, size)
		b = append(b, "\r\n"...)
	case wsflv.RangeUnsatisfiable:
		b = append(b, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: "...)
		b = wsflv.AppendContentRange(b, r, res, size)
		b = append(b, "\r\n"...)
	default:
		b = append(b, "HTTP/1.1 200 OK\r\n"...)
	}
	b = fmt.Appendf(b, "Content-Length: %d\r\n%s\r\n", v.ContentLength(), vodHeaders)
	_, _ = h.Conn.Write(b)
	h.Loop.Out = b[:0]
	if head || res == wsflv.RangeUnsatisfiable {
		h.state = httpDone
		return false
	}
	return true
}
