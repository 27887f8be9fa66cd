package httpflv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/vod"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/web"
	"github.com/quaverlive/quaver/wsflv"
)

// HTTP session states.
const (
	httpHead    uint8 = iota // reading the request head
	httpStream               // HTTP-FLV response body is being sent
	httpWS                   // WebSocket-FLV
	httpDone                 // response written, closing
	httpPending              // a play waits for its hook's deferred decision
)

// Why an HTTP session closes.
var (
	errHTTPSlow = errors.New("server: HTTP request head timeout")
	errWSClosed = errors.New("server: websocket closed by peer")
)

// Session serves one HTTP connection: the player page, its libraries, the
// stream and recording lists, and HTTP-FLV / WebSocket-FLV plays. It implements
// netpoll.Session (OnData, OnTick and OnClose are loop-only).
type Session struct {
	engine.Session // identity and handler context
	state          uint8
	head           []byte
	req            wsflv.Request
	entry          *registry.Stream
	playReq        engine.StreamRequest // the live play of entry
	sub            *fanout.Subscriber
	vod            *vod.Play // play of a recording (vod.go)

	// WebSocket client frames (ping, pong, close; a player's data is skipped).
	ws wsflv.FrameDecoder
}

// New returns the session of a connection accepted by an HTTP listener of
// kind (loop-only).
func New(sh *engine.Shared, c netpoll.Conn, kind int) *Session {
	h := &Session{}
	h.Init(sh, c, kind)
	h.Log = h.Log.With("proto", "http")
	return h
}

// Response header lines added to every response so pages from other origins can play.
const corsHeaders = "Access-Control-Allow-Origin: *\r\n"

func (h *Session) OnData(p []byte) error {
	h.Reads++
	h.BytesIn.Add(uint64(len(p)))
	err := h.serve(p)
	if err == nil {
		err = h.CheckBacklog(h.sub != nil || h.vod != nil)
	}
	return err
}

func (h *Session) serve(p []byte) error {
	switch h.state {
	case httpHead:
		if len(h.head)+len(p) > wsflv.MaxRequestHeadSize+4 {
			h.reply(431, "Request Header Fields Too Large", "text/plain", []byte("request head too large\n"))
			return fmt.Errorf("%w: request head over %d bytes", wsflv.ErrHeaderTooLarge, wsflv.MaxRequestHeadSize)
		}
		h.head = append(h.head, p...)
		n, err := wsflv.ReadRequest(h.head, &h.req)
		if errors.Is(err, wsflv.ErrHeaderTooLarge) {
			h.reply(431, "Request Header Fields Too Large", "text/plain", []byte("request head too large\n"))
			return err
		}
		if err != nil {
			h.reply(400, "Bad Request", "text/plain", []byte(err.Error()+"\n"))
			return err
		}
		if n == 0 {
			return nil
		}
		return h.route()
	case httpWS:
		return h.wsFrames(p)
	}
	return nil // HTTP-FLV clients have nothing to say; pipelined requests are ignored
}

func (h *Session) OnTick(now time.Time) error {
	h.CheckDeadline(now) // a deferred decision that did not come in time refuses
	if h.state == httpHead && now.Sub(h.Created) > h.Shared.Limits.HandshakeTimeout {
		return errHTTPSlow
	}
	return nil
}

func (h *Session) OnClose(err error) {
	h.EndPlay(engine.PlayEndReason(h.sub, err)) // the play's summary line, if it played
	h.ReleaseSlot()
	h.Closed = true   // checked by VOD tasks
	if h.vod != nil { // play of a recording: its goroutine stops and closes the file
		h.vod.Stop()
		h.Hooks().OnPlayDone(&h.Session, h.vod.Request())
		h.vod = nil
	}
	if h.sub != nil {
		if err := h.sub.Err(); errors.Is(err, fanout.ErrSlowSubscriber) {
			h.Log.Info("viewer disconnected", "stream", h.entry.Key, "reason", err)
		}
		h.sub.Close()
		h.sub = nil
	}
	if h.entry != nil {
		h.Hooks().OnPlayDone(&h.Session, &h.playReq)
		h.Shared.Reg.ReleasePlay(h.entry)
		h.entry = nil
	}
	if h.App != nil {
		h.Hooks().OnClose(&h.Session)
	}
	switch {
	case err == nil, errors.Is(err, netpoll.ErrStopped), errors.Is(err, errWSClosed), engine.IsPeerGone(err):
		h.Log.Debug("http connection closed", "reason", err)
	default:
		h.Log.Warn("http connection closed", "reason", err)
	}
}

// reply writes a complete response and marks the connection for closing.
func (h *Session) reply(code int, status, ctype string, body []byte) {
	b := fmt.Appendf(h.Loop.Out[:0], "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\n%s\r\n",
		code, status, ctype, len(body), corsHeaders)
	if !bytes.Equal(h.req.Method, []byte("HEAD")) {
		b = append(b, body...)
	}
	_, _ = h.Conn.Write(b)
	h.Loop.Out = b[:0]
	h.state = httpDone
	_ = h.Conn.Close()
}

func (h *Session) route() error {
	r := &h.req
	method := string(r.Method)
	if method == "OPTIONS" {
		b := append(h.Loop.Out[:0], "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Headers: *\r\nAccess-Control-Max-Age: 86400\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...)
		_, _ = h.Conn.Write(b)
		h.Loop.Out = b[:0]
		h.state = httpDone
		_ = h.Conn.Close()
		return nil
	}
	if method != "GET" && method != "HEAD" {
		h.reply(405, "Method Not Allowed", "text/plain", []byte("only GET, HEAD and OPTIONS\n"))
		return nil
	}
	path := string(r.Path)
	switch {
	case path == "/" || path == "/player" || path == "/index.html":
		h.reply(200, "OK", "text/html; charset=utf-8", web.Index)
		return nil
	case strings.HasPrefix(path, "/lib/"):
		body, ok := h.Shared.WebLibs[path]
		if !ok {
			h.reply(404, "Not Found", "application/javascript", []byte(fmt.Sprintf("console.error(%q);\n",
				"player library "+path+" is missing: run `make web` (npm install in web/) and restart rtmpd")))
			return nil
		}
		h.reply(200, "OK", "application/javascript", body)
		return nil
	case path == "/api/streams":
		bb := h.Shared.Bodies.Get()
		_ = json.NewEncoder(bb).Encode(h.Shared.Reg.List())
		h.reply(200, "OK", "application/json", bb.B)
		h.Shared.Bodies.Put(bb)
		return nil
	case path == "/api/recordings":
		// From the recorder's in-memory index: no disk I/O on the loop.
		// Only recordings the public may play (apps with VOD).
		list := []recorder.Info{}
		for _, in := range h.Shared.Rec.List() {
			if app := h.Shared.Apps[in.App]; app != nil && app.VOD {
				list = append(list, in)
			}
		}
		bb := h.Shared.Bodies.Get()
		_ = json.NewEncoder(bb).Encode(list)
		h.reply(200, "OK", "application/json", bb.B)
		h.Shared.Bodies.Put(bb)
		return nil
	case path == "/healthz":
		h.reply(200, "OK", "text/plain", []byte("ok\n"))
		return nil
	}
	return h.play(path)
}

// fail refuses a play: an HTTP error response, or for a WebSocket the
// upgrade completed and then a close with a reason the page can show.
func (h *Session) fail(isWS bool, code int, status string, wsCode uint16, reason string) error {
	if !isWS {
		h.reply(code, status, "text/plain", []byte(reason+"\n"))
		return nil
	}
	out, err := wsflv.Upgrade(h.req.Head, h.Loop.Out[:0], nil)
	if err == nil {
		// A name decoded from the path may be any bytes; a close reason must
		// be UTF-8 (RFC 6455 section 5.5.1) or browsers drop it as 1006.
		out = wsflv.AppendClose(out, wsCode, strings.ToValidUTF8(reason, "\uFFFD"))
	}
	_, _ = h.Conn.Write(out)
	h.Loop.Out = out[:0]
	h.state = httpDone
	_ = h.Conn.Close()
	return nil
}

// play serves /<app>/<stream>[.flv] as HTTP-FLV, or as WebSocket-FLV when the
// request is an upgrade.
func (h *Session) play(path string) error {
	isWS := h.req.IsUpgrade()
	fail := func(code int, status string, wsCode uint16, reason string) error {
		return h.fail(isWS, code, status, wsCode, reason)
	}
	appName, name, ok := splitPlayPath(path)
	if !ok || !recorder.ValidName(name) {
		return fail(404, "Not Found", wsflv.CloseNotFound, "no such stream")
	}
	app := h.Shared.App(appName)
	if app == nil {
		return fail(404, "Not Found", wsflv.CloseNotFound, "unknown app "+appName)
	}
	kind := "http"
	if isWS {
		kind = "ws"
	}
	h.App, h.AppName = app, appName
	req := engine.StreamRequest{App: appName, Name: name, Query: string(h.req.RawQuery), Type: kind, Started: time.Now()}
	v := h.Authorize(&req, false)
	if v.Pending == nil {
		return h.playDecided(req, isWS, v.Refused, v.BadName)
	}
	h.state = httpPending // input is ignored until the decision
	h.Hold(v.Pending, func(refused error, rename string) {
		if refused == nil && rename != "" {
			req.Name = rename
		}
		if err := h.playDecided(req, isWS, refused, refused == nil && !recorder.ValidName(req.Name)); err != nil {
			h.Log.Debug("play failed", "reason", err)
			_ = h.Conn.Close()
		}
	})
	return nil
}

// playDecided answers a play once the app's hook has decided (loop-only).
func (h *Session) playDecided(req engine.StreamRequest, isWS bool, refused error, badName bool) error {
	fail := func(code int, status string, wsCode uint16, reason string) error {
		return h.fail(isWS, code, status, wsCode, reason)
	}
	switch {
	case errors.Is(refused, engine.ErrStreamNotFound):
		return fail(404, "Not Found", wsflv.CloseNotFound, "stream "+req.App+"/"+req.Name+" not found")
	case refused != nil:
		return fail(403, "Forbidden", wsflv.ClosePolicy, refused.Error())
	case badName:
		return fail(404, "Not Found", wsflv.CloseNotFound, "no such stream")
	}
	appName, kind := req.App, req.Type
	e := h.Shared.Reg.AcquireLive(appName, req.Name)
	if e == nil {
		// Not live: play a recording of that name, or 404 (vod.go).
		return h.startVOD(req, isWS)
	}
	h.entry, h.playReq = e, req
	h.SetActivity(engine.RolePlayer, kind, appName, req.Name)
	format := fanout.FormatFLV
	var sink fanout.Sink = h.Conn
	if isWS {
		if err := h.upgrade(); err != nil {
			return err
		}
		format = fanout.FormatWSFLV
		sink = wsSink{h.Conn}
	} else {
		b := append(h.Loop.Out[:0], "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache, no-store\r\nConnection: close\r\n"+corsHeaders+"\r\n"...)
		_, _ = h.Conn.Write(b)
		h.Loop.Out = b[:0]
		if bytes.Equal(h.req.Method, []byte("HEAD")) {
			h.state = httpDone
			_ = h.Conn.Close()
			return nil
		}
		h.state = httpStream
	}
	h.sub = e.Fanout.Subscribe(&h.Loop.Fan, sink, fanout.SubscriberOptions{Format: format, OnFirstFrame: h.FirstFrameHook(req.Type, req.Started)})
	h.Log.Info("play", "stream", e.Key, "via", kind)
	return nil
}

// upgrade answers the WebSocket upgrade of a play (loop-only); after an
// error the connection is done.
func (h *Session) upgrade() error {
	out, err := wsflv.Upgrade(h.req.Head, h.Loop.Out[:0], []byte(corsHeaders))
	_, _ = h.Conn.Write(out)
	h.Loop.Out = out[:0]
	if err != nil {
		h.state = httpDone
		return err
	}
	h.state = httpWS
	return nil
}

// wsSink ends a WebSocket-FLV play with a close frame.
type wsSink struct{ netpoll.Conn }

// TryWritev passes the connection's direct write through (fanout.DirectSink),
// so WebSocket-FLV viewers, like the others, queue at most one message.
func (w wsSink) TryWritev(bufs [][]byte) (int, error) {
	if d, ok := w.Conn.(fanout.DirectSink); ok {
		return d.TryWritev(bufs)
	}
	return w.Conn.Writev(bufs)
}

func (w wsSink) EndOfStream() {
	_, _ = w.Write(wsflv.AppendClose(nil, wsflv.CloseNormal, "stream ended"))
	_ = w.Close()
}

// wsFrames reads client frames: pings are answered, a close is echoed, data
// is ignored (a player has nothing to send).
func (h *Session) wsFrames(p []byte) error {
	for len(p) > 0 {
		n, f, err := h.ws.Feed(p)
		if err != nil {
			_, _ = h.Conn.Write(wsflv.AppendClose(h.Loop.Out[:0], wsflv.CloseProtocolError, err.Error()))
			return err
		}
		p = p[n:]
		if f == nil {
			continue
		}
		switch f.Opcode {
		case wsflv.OpPing:
			_, _ = h.Conn.Write(wsflv.AppendFrame(h.Loop.Out[:0], wsflv.OpPong, f.Payload))
		case wsflv.OpClose:
			code, _, err := wsflv.ReadClose(f.Payload)
			switch {
			case err != nil:
				code = wsflv.CloseProtocolError
			case code == wsflv.CloseNoStatus:
				code = wsflv.CloseNormal
			}
			if !h.WSCloseSent { // else this answers our close: just close (RFC 6455 section 5.5.1)
				h.WSCloseSent = true
				_, _ = h.Conn.Write(wsflv.AppendClose(h.Loop.Out[:0], code, ""))
			}
			h.state = httpDone
			return errWSClosed
		}
	}
	return nil
}
