// Package server is Quaver's embedding API and RTMP session state machine.
//
// An application builds a Server from a Config, registers apps by name (the first
// path element of rtmp://host/<app>/<stream>; "live" and "record" are built in),
// hooks their life cycle with a Handler, and starts and stops the server:
//
//	srv := server.New(server.Config{RTMPAddr: ":1935"})
//	srv.Handle("secure", &server.App{Handler: myAuth{}})
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Shutdown(ctx)
//
// Connections are served by the netpoll reactor; each RTMP session is a state
// machine (handshake, chunk stream, commands) that runs on its connection's event
// loop. Published media goes into a fanout.Stream, which encodes each message once
// and delivers it to every player with merged writes.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
)

// Config configures a Server. Zero fields take the documented defaults.
type Config struct {
	// RTMPAddr is the RTMP listen address (default ":1935").
	RTMPAddr string
	// HTTPAddr, when set, serves HTTP-FLV, WebSocket-FLV, the player page, the
	// stream list (/api/streams) and metrics (/metrics) on the same event loops.
	HTTPAddr string
	// WebDir is where the player page's libraries are installed (WebDir/node_modules);
	// default "web".
	WebDir string
	// RecordDir is where recordings are written (default "./record"); Recorder
	// holds the other recording settings (file-name template, flush interval,
	// rotation). RecordDir wins over Recorder.Dir when both are set.
	RecordDir string
	Recorder  recorder.Config
	// Loops is the number of event loops (default runtime.GOMAXPROCS(0)).
	Loops int
	// Transport selects the RTMP transport: "gnet" (default, the event-loop
	// reactor) or "std" (standard library, goroutines per connection; the baseline).
	Transport string
	// RTMPSAddr, with TLS set, also serves RTMP over TLS (rtmps://) on the
	// standard-library transport (gnet has no TLS).
	RTMPSAddr string
	// TLS is the certificate configuration for RTMPSAddr.
	TLS *tls.Config
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger

	// ChunkSize is the outbound RTMP chunk size (default 4096).
	ChunkSize uint32
	// WindowAckSize is the acknowledgement window announced to peers (default 2500000).
	WindowAckSize uint32
	// HandshakeTimeout closes connections that have not completed the handshake
	// and connect command in time (default 10s).
	HandshakeTimeout time.Duration
	// IdleTimeout closes connections that neither publish nor play and send
	// nothing for this long (default 60s).
	IdleTimeout time.Duration
	// MaxMessageSize caps an inbound RTMP message (default chunkcodec.DefaultMaxMessageSize).
	MaxMessageSize uint32
	// MaxChunkStreams caps live inbound chunk streams per connection (default 64).
	MaxChunkStreams int
	// MaxInboundChunkSize caps the chunk size a peer may set (default 1 MiB).
	MaxInboundChunkSize uint32
	// MaxStreamsPerConn caps createStream per connection (default 8).
	MaxStreamsPerConn int
	// MaxConnections refuses connections beyond this many (0: unlimited).
	MaxConnections int
	// StreamLinger keeps an unpublished stream's players attached this long so a
	// quick republish continues to them (default 10s).
	StreamLinger time.Duration
	// SocketSendBuffer sets SO_SNDBUF on accepted connections (0: the kernel's
	// default, which autotunes up to several MB on Linux). A smaller buffer
	// bounds kernel memory per viewer and lets the fanout's watermarks see a
	// stalled viewer sooner.
	SocketSendBuffer int
	// TCPKeepAlive enables TCP keep-alive probes with this idle time (default 30s; negative disables).
	TCPKeepAlive time.Duration

	// Fanout tunes delivery: ring size, GOP cache caps, watermarks, batch window.
	Fanout fanout.Config
}

// Defaults.
const (
	DefaultRTMPAddr          = ":1935"
	DefaultWindowAckSize     = 2500000
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxStreamsPerConn = 8
	DefaultStreamLinger      = 10 * time.Second
)

func (c *Config) setDefaults() {
	if c.RTMPAddr == "" {
		c.RTMPAddr = DefaultRTMPAddr
	}
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = fanout.DefaultChunkSize
	}
	if c.WindowAckSize == 0 {
		c.WindowAckSize = DefaultWindowAckSize
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = chunkcodec.DefaultMaxMessageSize
	}
	if c.MaxChunkStreams <= 0 {
		c.MaxChunkStreams = chunkcodec.DefaultMaxChunkStreams
	}
	if c.MaxInboundChunkSize == 0 {
		c.MaxInboundChunkSize = chunkcodec.DefaultMaxInboundChunkSize
	}
	if c.MaxStreamsPerConn <= 0 {
		c.MaxStreamsPerConn = DefaultMaxStreamsPerConn
	}
	if c.StreamLinger <= 0 {
		c.StreamLinger = DefaultStreamLinger
	}
	if c.WebDir == "" {
		c.WebDir = "web"
	}
	if c.TCPKeepAlive == 0 {
		c.TCPKeepAlive = 30 * time.Second
	}
	if c.RecordDir != "" {
		c.Recorder.Dir = c.RecordDir
	}
	if c.Recorder.Logger == nil {
		c.Recorder.Logger = c.Logger
	}
	c.Fanout.Loops = c.Loops
	if c.RTMPSAddr != "" && c.TLS != nil {
		c.Fanout.Loops = 2 * c.Loops // RTMPS loops follow the plain ones
	}
	c.Fanout.ChunkSize = c.ChunkSize
}

// Sentinel errors.
var (
	ErrStarted        = errors.New("server: already started")
	ErrNotStarted     = errors.New("server: not started")
	ErrUnknownApp     = errors.New("server: unknown app")
	ErrStreamBusy     = errors.New("server: stream is already being published")
	ErrHandshakeSlow  = errors.New("server: handshake timeout")
	ErrIdle           = errors.New("server: idle timeout")
	ErrPublisherIdle  = errors.New("server: publisher sent no media within the idle timeout")
	ErrTooManyStreams = errors.New("server: too many streams on one connection")
	ErrReplaced       = errors.New("server: publisher replaced by a new one")
	ErrProtocol       = errors.New("server: protocol violation")
	ErrShutdown       = errors.New("server: shutting down")
)

// Server is an RTMP server. Construct with New, register apps with Handle, then Start.
type Server struct {
	cfg  Config
	log  *slog.Logger
	hub  *fanout.Hub
	apps map[string]*App

	eng     netpoll.Transport
	tlsEng  netpoll.Transport
	started atomic.Bool
	closing atomic.Bool
	loops   []*loopState
	nextID  atomic.Uint64

	mu      sync.Mutex
	streams map[string]*entry

	stopJanitor chan struct{}
	janitorDone chan struct{}

	connsOpen atomic.Int64
	connsAll  atomic.Uint64

	rec     *recorder.Manager
	webLibs map[string][]byte

	// Scratch pools, one per role so each calibrates to its own sizes:
	// HTTP response bodies (/metrics, JSON) and custom-command replies.
	httpBodies bytebufferpool.Pool
	replies    bytebufferpool.Pool
	httpPort   int

	// bufPool supplies the chunk decoders' payload buffers, shared by all sessions.
	bufPool *chunkcodec.BufferPool
}

// loopState is per-event-loop scratch (loop-only).
type loopState struct {
	out  []byte // pending output of the session being served
	body []byte // AMF0 body scratch
	now  time.Time
}

// New returns a server with the built-in "live" and "record" apps registered.
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		hub:     fanout.NewHub(cfg.Fanout),
		apps:    map[string]*App{},
		streams: map[string]*entry{},
		bufPool: chunkcodec.NewBufferPool(),
		rec:     recorder.NewManager(cfg.Recorder),
	}
	s.loops = make([]*loopState, cfg.Fanout.Loops)
	for i := range s.loops {
		s.loops[i] = &loopState{out: make([]byte, 0, 8<<10), body: make([]byte, 0, 4<<10), now: time.Now()}
	}
	s.apps["live"] = &App{}
	s.apps["record"] = &App{Record: true}
	return s
}

// Handle registers (or replaces) the app name. Call before Start.
func (s *Server) Handle(name string, app *App) {
	if app == nil {
		delete(s.apps, name)
		return
	}
	s.apps[name] = app
}

// Config returns the effective configuration.
func (s *Server) Config() Config { return s.cfg }

// Hub returns the fanout hub (for stats and for other transports).
func (s *Server) Hub() *fanout.Hub { return s.hub }

// Start listens and serves until Shutdown. It returns once the listeners accept.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	tick := netpoll.DefaultTick
	if w := s.cfg.Fanout.BatchWindow; w > 0 && w < tick {
		tick = w
	}
	if n, err := s.rec.RepairAll(); err != nil {
		s.log.Warn("repairing unfinished recordings", "err", err)
	} else if n > 0 {
		s.log.Info("repaired unfinished recordings", "count", n)
	}
	if s.cfg.HTTPAddr != "" {
		s.loadWebLibs()
	}
	// A ":0" port is resolved to a free port first (so the HTTP port is known
	// before connections arrive); another process can take it before the engine
	// binds, so such a start is retried with fresh ports.
	ephemeral := strings.HasSuffix(s.cfg.RTMPAddr, ":0") || strings.HasSuffix(s.cfg.HTTPAddr, ":0")
	var eng netpoll.Transport
	var err error
	for attempt := 0; ; attempt++ {
		eng, err = s.startTransport(tick)
		if err == nil || !ephemeral || attempt == 4 {
			break
		}
		s.log.Debug("listen on a resolved port failed; retrying", "err", err)
	}
	if err != nil {
		s.started.Store(false)
		return err
	}
	s.eng = eng
	ncfg := s.netConfig(eng.Addrs(), tick)
	if len(eng.Addrs()) > 1 {
		s.log.Info("http listening", "addr", eng.Addrs()[1], "player", "http://"+browsable(eng.Addrs()[1])+"/")
	}
	if s.cfg.RTMPSAddr != "" && s.cfg.TLS != nil {
		tcfg := ncfg
		tcfg.Addrs = []string{s.cfg.RTMPSAddr} // RTMP only over TLS
		tcfg.IndexBase = s.cfg.Loops
		if s.tlsEng, err = netpoll.StartStd(tcfg, s, s.cfg.TLS); err != nil {
			_ = eng.Stop(context.Background())
			s.started.Store(false)
			return err
		}
		s.log.Info("rtmps listening", "addr", s.tlsEng.Addrs()[0])
	}
	s.stopJanitor = make(chan struct{})
	s.janitorDone = make(chan struct{})
	go s.janitor()
	s.log.Info("rtmp listening", "addr", eng.Addrs()[0], "loops", s.cfg.Loops,
		"chunk_size", s.cfg.ChunkSize, "batch_window", s.cfg.Fanout.BatchWindow)
	return nil
}

func (s *Server) netConfig(addrs []string, tick time.Duration) netpoll.Config {
	return netpoll.Config{
		Addrs:            addrs,
		Loops:            s.cfg.Loops,
		Tick:             tick,
		Logger:           s.log,
		TCPKeepAlive:     s.cfg.TCPKeepAlive,
		SocketSendBuffer: s.cfg.SocketSendBuffer,
	}
}

// startTransport resolves the listen addresses and starts the RTMP (and HTTP)
// transport.
func (s *Server) startTransport(tick time.Duration) (netpoll.Transport, error) {
	rtmpAddr, _, err := netpoll.ResolveAddr(s.cfg.RTMPAddr)
	if err != nil {
		return nil, err
	}
	addrs := []string{rtmpAddr}
	if s.cfg.HTTPAddr != "" {
		httpAddr, port, err := netpoll.ResolveAddr(s.cfg.HTTPAddr)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, httpAddr)
		s.httpPort = port // before any connection can arrive
	}
	ncfg := s.netConfig(addrs, tick)
	switch s.cfg.Transport {
	case "", "gnet":
		return netpoll.Start(ncfg, s)
	case "std":
		return netpoll.StartStd(ncfg, s, nil)
	}
	return nil, fmt.Errorf("server: unknown transport %q (want gnet or std)", s.cfg.Transport)
}

// HTTPAddr returns the HTTP listen address with its port resolved, or "".
func (s *Server) HTTPAddr() string {
	if s.eng == nil || len(s.eng.Addrs()) < 2 {
		return ""
	}
	return s.eng.Addrs()[1]
}

// RTMPSAddr returns the RTMPS listen address, or "".
func (s *Server) RTMPSAddr() string {
	if s.tlsEng == nil {
		return ""
	}
	return s.tlsEng.Addrs()[0]
}

// RTMPAddr returns the RTMP listen address with its port resolved.
func (s *Server) RTMPAddr() string {
	if s.eng == nil {
		return ""
	}
	return s.eng.Addrs()[0]
}

// Shutdown ends every publish (players receive an end of stream), closes every
// connection and stops the loops, or gives up when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() || s.eng == nil {
		return ErrNotStarted
	}
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stopJanitor)
	<-s.janitorDone
	// End every publish first so players receive Stream EOF and
	// NetStream.Play.UnpublishNotify before their connections close.
	s.mu.Lock()
	var pubs []*Session
	for _, e := range s.streams {
		if e.publisher != nil {
			pubs = append(pubs, e.publisher)
		}
	}
	s.mu.Unlock()
	for _, p := range pubs {
		p.closeWith(ErrShutdown)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && s.Stats().Publishing > 0 {
		time.Sleep(20 * time.Millisecond)
	}
	if len(pubs) > 0 {
		time.Sleep(100 * time.Millisecond) // let the loops flush the end of stream
	}
	err := s.eng.Stop(ctx)
	if s.tlsEng != nil {
		_ = s.tlsEng.Stop(ctx)
	}
	// Recordings whose end of stream could not be delivered are finished here.
	s.mu.Lock()
	for _, e := range s.streams {
		if e.rec != nil {
			e.rec.Stop()
		}
	}
	s.mu.Unlock()
	s.rec.Wait()
	s.mu.Lock()
	for k, e := range s.streams {
		e.stream.Close()
		delete(s.streams, k)
	}
	s.mu.Unlock()
	s.log.Info("rtmp stopped")
	return err
}

// Stats is a snapshot of server counters.
type Stats struct {
	Connections      int64
	ConnectionsTotal uint64
	Streams          int
	Publishing       int
	Fanout           fanout.Stats
}

// Stats returns a snapshot. Safe from any goroutine.
func (s *Server) Stats() Stats {
	st := Stats{Connections: s.connsOpen.Load(), ConnectionsTotal: s.connsAll.Load(), Fanout: s.hub.Stats()}
	s.mu.Lock()
	st.Streams = len(s.streams)
	for _, e := range s.streams {
		if e.publisher != nil {
			st.Publishing++
		}
	}
	s.mu.Unlock()
	return st
}

// OnOpen implements netpoll.Handler.
func (s *Server) OnOpen(c netpoll.Conn) netpoll.Session {
	if s.closing.Load() {
		return nil
	}
	if m := s.cfg.MaxConnections; m > 0 && s.connsOpen.Load() >= int64(m) {
		s.log.Warn("connection refused: limit reached", "peer", c.RemoteAddr(), "limit", m)
		return nil
	}
	s.hub.AttachLoop(c.Loop())
	s.connsOpen.Add(1)
	s.connsAll.Add(1)
	if s.httpPort != 0 && c.LocalPort() == s.httpPort {
		return newHTTPSession(s, c)
	}
	return newSession(s, c)
}

// OnLoopTick implements netpoll.Handler: it flushes the loop's pending
// deliveries (once per batch window, or, without one, whatever audio is still
// waiting for video).
func (s *Server) OnLoopTick(l *netpoll.Loop, now time.Time) {
	s.loops[l.Index()].now = now
	s.hub.FlushLoop(l.Index())
}

// entry is a stream known to the registry.
type entry struct {
	key       string
	app       *App
	stream    *fanout.Stream
	publisher *Session
	pubID     atomic.Uint64 // id of the current publisher's session, read without the lock
	pubReq    StreamRequest
	rec       *recorder.Recording // current recording of this stream, if any
	players   int
	idleSince time.Time
}

func streamKey(app, name string) string { return app + "/" + name }

// acquirePlay registers a player of app/name and returns the stream's entry,
// creating an idle stream the publisher will fill later.
func (s *Server) acquirePlay(app *App, appName, name string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(app, appName, name)
	e.players++
	return e
}

func (s *Server) releasePlay(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.players--
	if e.players == 0 && e.publisher == nil {
		e.idleSince = time.Now()
	}
}

func (s *Server) entryLocked(app *App, appName, name string) *entry {
	k := streamKey(appName, name)
	e := s.streams[k]
	if e == nil {
		e = &entry{key: k, app: app, stream: s.hub.NewStream(fanout.StreamOptions{GOPCache: !app.DisableGOPCache})}
		s.streams[k] = e
	}
	return e
}

// acquirePublish makes sess the publisher of app/name under the app's republish
// policy. It returns the previous publisher when it was replaced.
func (s *Server) acquirePublish(sess *Session, app *App, req StreamRequest) (*entry, *Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entryLocked(app, req.App, req.Name)
	old := e.publisher
	if old != nil && old != sess {
		if app.Republish != RepublishReplace {
			return nil, nil, ErrStreamBusy
		}
	}
	e.publisher = sess
	e.pubReq = req
	return e, old, nil
}

// releasePublish detaches sess if it still publishes e.
func (s *Server) releasePublish(sess *Session, e *entry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.publisher != sess {
		return false
	}
	e.publisher = nil
	if e.players == 0 {
		e.idleSince = time.Now()
	}
	return true
}

// janitor removes streams that have had neither publisher nor players for the
// linger time.
func (s *Server) janitor() {
	defer close(s.janitorDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopJanitor:
			return
		case now := <-t.C:
			s.mu.Lock()
			for k, e := range s.streams {
				if e.publisher == nil && e.players == 0 && now.Sub(e.idleSince) > s.cfg.StreamLinger {
					e.stream.Close()
					delete(s.streams, k)
				}
			}
			s.mu.Unlock()
		}
	}
}

// StreamInfo describes a live stream.
type StreamInfo struct {
	App         string `json:"app"`
	Name        string `json:"name"`
	Publishing  bool   `json:"publishing"`
	Subscribers int    `json:"subscribers"`
}

// Streams lists known streams. Safe from any goroutine.
func (s *Server) Streams() []StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamInfo, 0, len(s.streams))
	for k, e := range s.streams {
		app, name, _ := strings.Cut(k, "/")
		out = append(out, StreamInfo{App: app, Name: name, Publishing: e.publisher != nil, Subscribers: e.stream.Subscribers()})
	}
	return out
}

func (s *Server) String() string { return fmt.Sprintf("quaver server %s", s.RTMPAddr()) }

// Recorder returns the recording manager (list, find, repair).
func (s *Server) Recorder() *recorder.Manager { return s.rec }

// StartRecording starts recording a stream that is being published. Safe from
// any goroutine; the recording attaches on the publisher's event loop.
func (s *Server) StartRecording(app, name string) error {
	s.mu.Lock()
	e := s.streams[streamKey(app, name)]
	var pub *Session
	if e != nil {
		pub = e.publisher
	}
	s.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("server: %s/%s is not being published", app, name)
	}
	errc := make(chan error, 1)
	if err := pub.conn.Loop().Execute(taskFunc(func() { errc <- pub.startRecording(e) })); err != nil {
		return err
	}
	return <-errc
}

// StopRecording stops recording a stream; the file is finished in the background.
func (s *Server) StopRecording(app, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.streams[streamKey(app, name)]
	if e == nil || e.rec == nil {
		return fmt.Errorf("server: %s/%s is not being recorded", app, name)
	}
	e.rec.Stop()
	e.rec = nil
	return nil
}

// taskFunc runs a function as a loop task.
type taskFunc func()

func (f taskFunc) Run(context.Context) error { f(); return nil }

// browsable turns a listen address into one a local browser can open.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
