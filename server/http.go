package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/web"
	"github.com/quaverlive/quaver/wsflv"
)

// HTTP session states.
const (
	httpHead   uint8 = iota // reading the request head
	httpStream              // HTTP-FLV response body is being sent
	httpWS                  // WebSocket-FLV
	httpDone                // response written, closing
)

var errHTTPSlow = errors.New("server: HTTP request head timeout")

// httpSession serves one HTTP connection: the player page, its libraries, the
// stream list, metrics, and HTTP-FLV / WebSocket-FLV plays.
type httpSession struct {
	*Session // identity and handler context (App, RemoteAddr, Set/Get, Logger)
	state    uint8
	head     []byte
	req      wsflv.Request
	entry    *registry.Stream
	sub      *fanout.Subscriber
	vod      *vodPlay // VOD play of a recording (vod.go)

	// WebSocket client frames (ping, pong, close; a player's data is skipped).
	ws wsflv.FrameDecoder
}

func newHTTPSession(srv *Server, c netpoll.Conn, kind int) *httpSession {
	s := newSession(srv, c, kind)
	s.log = s.log.With("proto", "http")
	return &httpSession{Session: s}
}

// Response header lines added to every response so pages from other origins can play.
const corsHeaders = "Access-Control-Allow-Origin: *\r\n"

func (h *httpSession) OnData(p []byte) error {
	h.reads++
	err := h.serve(p)
	if err == nil {
		err = h.checkBacklog(h.sub != nil || h.vod != nil)
	}
	return err
}

func (h *httpSession) serve(p []byte) error {
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

func (h *httpSession) OnTick(now time.Time) error {
	if h.state == httpHead && now.Sub(h.created) > h.srv.cfg.HandshakeTimeout {
		return errHTTPSlow
	}
	return nil
}

func (h *httpSession) OnClose(err error) {
	h.release()
	h.closed = true   // vod.go
	if h.vod != nil { // VOD play (vod.go): its goroutine stops and closes the file
		h.vod.stop()
		h.vod = nil
	}
	if h.sub != nil {
		if err := h.sub.Err(); errors.Is(err, fanout.ErrSlowSubscriber) {
			h.log.Info("viewer disconnected", "stream", h.entry.Key, "reason", err)
		}
		h.sub.Close()
		h.sub = nil
	}
	if h.entry != nil {
		h.srv.reg.ReleasePlay(h.entry)
		h.entry = nil
	}
	if h.handler != nil {
		h.handler.OnClose(h.Session)
	}
	switch {
	case err == nil, errors.Is(err, netpoll.ErrStopped), errors.Is(err, errWSClosed), isPeerGone(err):
		h.log.Debug("http connection closed", "reason", err)
	default:
		h.log.Warn("http connection closed", "reason", err)
	}
}

// reply writes a complete response and marks the connection for closing.
func (h *httpSession) reply(code int, status, ctype string, body []byte) {
	b := fmt.Appendf(h.loop.out[:0], "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\n%s\r\n",
		code, status, ctype, len(body), corsHeaders)
	if !bytes.Equal(h.req.Method, []byte("HEAD")) {
		b = append(b, body...)
	}
	_, _ = h.conn.Write(b)
	h.loop.out = b[:0]
	h.state = httpDone
	_ = h.conn.Close()
}

func (h *httpSession) route() error {
	r := &h.req
	method := string(r.Method)
	if method == "OPTIONS" {
		b := append(h.loop.out[:0], "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Allow-Headers: *\r\nAccess-Control-Max-Age: 86400\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"...)
		_, _ = h.conn.Write(b)
		h.loop.out = b[:0]
		h.state = httpDone
		_ = h.conn.Close()
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
		body, ok := h.srv.webLibs[path]
		if !ok {
			h.reply(404, "Not Found", "application/javascript", []byte(fmt.Sprintf("console.error(%q);\n",
				"player library "+path+" is missing: run `make web` (npm install in web/) and restart rtmpd")))
			return nil
		}
		h.reply(200, "OK", "application/javascript", body)
		return nil
	case path == "/api/streams":
		bb := h.srv.httpBodies.Get()
		_ = json.NewEncoder(bb).Encode(h.srv.Streams())
		h.reply(200, "OK", "application/json", bb.B)
		h.srv.httpBodies.Put(bb)
		return nil
	case path == "/api/recordings":
		// From the recorder's in-memory index: no disk I/O on the loop.
		list := h.srv.rec.List()
		if list == nil {
			list = []recorder.Info{}
		}
		bb := h.srv.httpBodies.Get()
		_ = json.NewEncoder(bb).Encode(list)
		h.reply(200, "OK", "application/json", bb.B)
		h.srv.httpBodies.Put(bb)
		return nil
	case path == "/metrics":
		bb := h.srv.httpBodies.Get()
		bb.B = h.srv.appendMetrics(bb.B)
		h.reply(200, "OK", "text/plain; version=0.0.4", bb.B)
		h.srv.httpBodies.Put(bb)
		return nil
	case path == "/healthz":
		h.reply(200, "OK", "text/plain", []byte("ok\n"))
		return nil
	}
	return h.play(path)
}

// play serves /<app>/<stream>[.flv] as HTTP-FLV, or as WebSocket-FLV when the
// request is an upgrade.
func (h *httpSession) play(path string) error {
	isWS := h.req.IsUpgrade()
	fail := func(code int, status string, wsCode uint16, reason string) error {
		if !isWS {
			h.reply(code, status, "text/plain", []byte(reason+"\n"))
			return nil
		}
		// Complete the upgrade, then close with a reason the page can show.
		out, err := wsflv.Upgrade(h.req.Head, h.loop.out[:0], nil)
		if err == nil {
			out = wsflv.AppendClose(out, wsCode, reason)
		}
		_, _ = h.conn.Write(out)
		h.loop.out = out[:0]
		h.state = httpDone
		_ = h.conn.Close()
		return nil
	}
	p := strings.TrimPrefix(path, "/")
	p = strings.TrimSuffix(p, ".flv")
	appName, name, ok := strings.Cut(p, "/")
	if !ok || appName == "" || !recorder.ValidName(name) {
		return fail(404, "Not Found", wsflv.CloseNotFound, "no such stream")
	}
	app := h.srv.apps[appName]
	if app == nil {
		return fail(404, "Not Found", wsflv.CloseNotFound, "unknown app "+appName)
	}
	kind := "http"
	if isWS {
		kind = "ws"
	}
	h.app, h.appName = app, appName
	h.handler = app.Handler
	if h.handler == nil {
		h.handler = BaseHandler{}
	}
	req := StreamRequest{App: appName, Name: name, Query: string(h.req.RawQuery), Type: kind}
	if err := h.handler.OnPlay(h.Session, &req); err != nil {
		return fail(403, "Forbidden", wsflv.ClosePolicy, err.Error())
	}
	if !recorder.ValidName(req.Name) {
		return fail(404, "Not Found", wsflv.CloseNotFound, "no such stream")
	}
	e := h.srv.reg.AcquireLive(appName, req.Name)
	if e == nil {
		// Not live: play a recording of that name, or 404 (vod.go).
		return h.startHTTPVOD(req, isWS, fail)
	}
	h.entry = e
	format := fanout.FormatFLV
	var sink fanout.Sink = h.conn
	if isWS {
		out, err := wsflv.Upgrade(h.req.Head, h.loop.out[:0], []byte(corsHeaders))
		_, _ = h.conn.Write(out)
		h.loop.out = out[:0]
		if err != nil {
			h.state = httpDone
			return err
		}
		h.state = httpWS
		format = fanout.FormatWSFLV
		sink = wsSink{h.conn}
	} else {
		b := append(h.loop.out[:0], "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache, no-store\r\nConnection: close\r\n"+corsHeaders+"\r\n"...)
		_, _ = h.conn.Write(b)
		h.loop.out = b[:0]
		if bytes.Equal(h.req.Method, []byte("HEAD")) {
			h.state = httpDone
			_ = h.conn.Close()
			return nil
		}
		h.state = httpStream
	}
	h.sub = e.Fanout.Subscribe(&h.loop.fan, sink, fanout.SubscriberOptions{Format: format})
	h.log.Info("play", "stream", e.Key, "via", kind)
	return nil
}

// wsSink ends a WebSocket-FLV play with a close frame.
type wsSink struct{ netpoll.Conn }

func (w wsSink) EndOfStream() {
	_, _ = w.Write(wsflv.AppendClose(nil, wsflv.CloseNormal, "stream ended"))
	_ = w.Close()
}

// wsFrames reads client frames: pings are answered, a close is echoed, data
// is ignored (a player has nothing to send).
func (h *httpSession) wsFrames(p []byte) error {
	for len(p) > 0 {
		n, f, err := h.ws.Feed(p)
		if err != nil {
			_, _ = h.conn.Write(wsflv.AppendClose(h.loop.out[:0], wsflv.CloseProtocolError, err.Error()))
			return err
		}
		p = p[n:]
		if f == nil {
			continue
		}
		switch f.Opcode {
		case wsflv.OpPing:
			_, _ = h.conn.Write(wsflv.AppendFrame(h.loop.out[:0], wsflv.OpPong, f.Payload))
		case wsflv.OpClose:
			code, _, err := wsflv.ReadClose(f.Payload)
			switch {
			case err != nil:
				code = wsflv.CloseProtocolError
			case code == wsflv.CloseNoStatus:
				code = wsflv.CloseNormal
			}
			if !h.wsCloseSent { // else this answers our close: just close (RFC 6455 section 5.5.1)
				h.wsCloseSent = true
				_, _ = h.conn.Write(wsflv.AppendClose(h.loop.out[:0], code, ""))
			}
			h.state = httpDone
			return errWSClosed
		}
	}
	return nil
}

var errWSClosed = errors.New("server: websocket closed by peer")

// loadWebLibs reads the player libraries from dir/node_modules, if installed.
func (s *Server) loadWebLibs() {
	s.webLibs = map[string][]byte{}
	if s.cfg.WebDir == "" {
		return
	}
	for urlPath, rel := range web.Libraries {
		b, err := os.ReadFile(filepath.Join(s.cfg.WebDir, "node_modules", rel))
		if err != nil {
			s.log.Warn("player library missing; the player page will say so", "lib", urlPath, "hint", "run `make web`")
			continue
		}
		s.webLibs[urlPath] = b
	}
}

// runtimeSamples are the Go runtime figures /metrics exports: what benchmarks
// need to tell allocations per delivered message and heap per subscriber.
var runtimeSamples = []struct{ metric, name, help string }{
	{"/gc/heap/allocs:objects", "quaver_go_heap_allocs_objects_total", "Heap objects allocated since start."},
	{"/memory/classes/heap/objects:bytes", "quaver_go_heap_objects_bytes", "Bytes in live and unswept heap objects."},
	{"/sched/goroutines:goroutines", "quaver_go_goroutines", "Goroutines."},
}

// appendMetrics renders counters in the Prometheus text exposition format.
func (s *Server) appendMetrics(b []byte) []byte {
	st := s.Stats()
	f := st.Fanout
	add := func(name, kind, help string, v any) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, kind, name, v)
	}
	add("quaver_connections", "gauge", "Open connections.", st.Connections)
	add("quaver_connections_total", "counter", "Connections accepted.", st.ConnectionsTotal)
	add("quaver_streams", "gauge", "Known streams.", st.Streams)
	add("quaver_streams_publishing", "gauge", "Streams with a publisher.", st.Publishing)
	add("quaver_packets_in_total", "counter", "Media and data messages published.", f.PacketsIn)
	add("quaver_bytes_in_total", "counter", "Payload bytes published.", f.BytesIn)
	add("quaver_deliveries_total", "counter", "Messages handed to subscriber writes.", f.Deliveries)
	add("quaver_bytes_out_total", "counter", "Bytes handed to subscriber writes.", f.BytesOut)
	add("quaver_writes_total", "counter", "Subscriber writev calls.", f.Writes)
	add("quaver_skips_total", "counter", "Times a subscriber skipped to a keyframe.", f.Skips)
	add("quaver_slow_disconnects_total", "counter", "Subscribers closed for being too slow.", f.SlowDisconnects)
	add("quaver_subscribers_total", "counter", "Subscribers ever attached.", f.SubscribersTotal)
	add("quaver_partial_message_bytes", "gauge", "Bytes held in partly received RTMP messages (budget: max-partial-bytes).", s.partial.Used())
	vodOpen, _ := s.vodAdmit.Open()
	add("quaver_vod_plays", "gauge", "Recordings being played.", vodOpen)
	b = append(b, "# HELP quaver_connections_refused_total Connections refused by a connection budget.\n# TYPE quaver_connections_refused_total counter\n"...)
	for v := admission.Verdict(1); v < admission.NumVerdicts; v++ {
		b = fmt.Appendf(b, "quaver_connections_refused_total{reason=%q} %d\n", v.String(), s.refused[v].Load())
	}
	samples := make([]metrics.Sample, len(runtimeSamples))
	for i, r := range runtimeSamples {
		samples[i].Name = r.metric
	}
	metrics.Read(samples)
	for i, r := range runtimeSamples {
		kind := "gauge"
		if strings.HasSuffix(r.name, "_total") {
			kind = "counter"
		}
		if samples[i].Value.Kind() == metrics.KindUint64 {
			add(r.name, kind, r.help, samples[i].Value.Uint64())
		}
	}
	return b
}
