package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/cluster"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/httpflv"
	"github.com/quaverlive/quaver/internal/ratelog"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/relay"
	"github.com/quaverlive/quaver/internal/rtmp"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
)

// Sentinel errors.
var (
	ErrStarted        = errors.New("server: already started")
	ErrNotStarted     = errors.New("server: not started")
	ErrUnknownApp     = engine.ErrUnknownApp
	ErrStreamBusy     = registry.ErrStreamBusy
	ErrHandshakeSlow  = engine.ErrHandshakeSlow
	ErrIdle           = engine.ErrIdle
	ErrPublisherIdle  = engine.ErrPublisherIdle
	ErrTooManyStreams = engine.ErrTooManyStreams
	ErrReplaced       = engine.ErrReplaced
	ErrProtocol       = engine.ErrProtocol
	ErrShutdown       = engine.ErrShutdown
	ErrTooManyNames   = registry.ErrTooManyNames
	ErrTooManyIdle    = registry.ErrTooManyIdle
	ErrOutboundFull   = engine.ErrOutboundFull
	ErrPartialTimeout = engine.ErrPartialTimeout
	ErrNotPublished   = errors.New("server: stream is not being published")
	ErrRecording      = errors.New("server: stream is already being recorded")
	ErrNotRecording   = errors.New("server: stream is not being recorded")
	ErrAdminToken     = errors.New("server: the admin address is not loopback and no AdminToken is set")
)

// Server is an RTMP server. Construct with New, register apps with Handle, then Start.
type Server struct {
	cfg  Config
	log  *slog.Logger
	apps map[string]*App

	// sh is what the sessions share: limits, registry, hub, recorder, pools.
	sh  *engine.Shared
	hub *fanout.Hub
	reg *registry.Registry
	rec *recorder.Manager

	eng     netpoll.Transport
	tlsEng  netpoll.Transport
	started atomic.Bool
	closing atomic.Bool

	// Budgets shared by all sessions (see Config).
	admit    *admission.Limiter // connections per server, listener and peer
	refused  [admission.NumVerdicts]atomic.Uint64
	logLimit *ratelog.Handler

	stopJanitor chan struct{}
	janitorDone chan struct{}
	// The sysmon hold (Config.SysmonBatch): set by Start before the janitor
	// starts, released by Shutdown.
	releaseSysmon func()

	connsOpen atomic.Int64
	connsAll  atomic.Uint64

	hooks      *hookCaller                       // HTTP hook calls (App.Hooks)
	firstFrame *prometheus.HistogramVec          // plays' time to first frame (metrics)
	relays     *relay.Manager                    // pulls of edge apps (App.Pull)
	dir        atomic.Pointer[cluster.Directory] // set by Start with Config.Cluster

	// The admin listener (admin.go): set by Start, read-only after.
	adminSrv  *http.Server
	adminAddr string
	adminDone chan struct{} // closed when its accept loop returned
}

// New returns a server with no app: nothing is served until apps are
// registered with Handle (rtmpd declares "live" and "record" in its default
// configuration).
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	limit := ratelog.New(cfg.Logger.Handler(), cfg.LogRate, cfg.LogBurst)
	cfg.Logger = slog.New(limit)
	cfg.setDefaults()
	hooks := newHookCaller(cfg.Logger)
	var s *Server
	cfg.Recorder.OnFinish = func(in recorder.Info) { s.recordDone(in) }
	s = &Server{
		hooks:    hooks,
		cfg:      cfg,
		log:      cfg.Logger,
		hub:      fanout.NewHub(cfg.Fanout),
		apps:     map[string]*App{},
		rec:      recorder.NewManager(cfg.Recorder),
		admit:    admission.New(cfg.admission()),
		logLimit: limit,
	}
	s.reg = registry.New(s.hub, registry.Limits{MaxIdle: cfg.MaxIdleStreams, Linger: cfg.StreamLinger, Grace: cfg.RepublishGrace})
	s.cfg.Fanout = s.hub.Config() // the effective delivery policy, defaults applied
	s.sh = &engine.Shared{
		Limits:   s.cfg.limits(),
		Log:      s.log,
		Hub:      s.hub,
		Reg:      s.reg,
		Rec:      s.rec,
		Apps:     map[string]*engine.App{},
		Loops:    make([]*engine.Loop, s.cfg.Fanout.Loops),
		BufPool:  chunkcodec.NewBufferPool(),
		Partial:  chunkcodec.NewBudget(cfg.MaxPartialBytes),
		VODAdmit: admission.New(cfg.vodAdmission()),
		Release:  s.release,
	}
	for i := range s.sh.Loops {
		s.sh.Loops[i] = engine.NewLoop()
	}
	s.relays = relay.NewManager(s.sh, cfg.MaxPulls)
	s.firstFrame = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quaver_first_frame_seconds",
		Help:    "Time from a play's request to its first frame handed to the connection, by protocol.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"protocol"})
	s.sh.FirstFrame = func(protocol string, d time.Duration) {
		s.firstFrame.WithLabelValues(protocol).Observe(d.Seconds())
	}

	return s
}

// Handle registers (or replaces) the app name. Call before Start: the apps'
// settings are read when the server starts (their custom commands and
// message types may still be added after).
func (s *Server) Handle(name string, app *App) {
	if app == nil {
		delete(s.apps, name)
		return
	}
	s.apps[name] = app
}

// Config returns the effective configuration. Any goroutine.
func (s *Server) Config() Config { return s.cfg }

// Hub returns the fanout hub (for stats and for other transports). Any
// goroutine.
func (s *Server) Hub() *fanout.Hub { return s.hub }

// Start listens and serves until Shutdown. It returns once the listeners
// accept. Any goroutine except a loop; once.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	tick := netpoll.DefaultTick // the fanout times its own windows
	s.sh.PartialTicks = int64(s.cfg.PartialMessageTimeout / tick)
	for name, app := range s.apps {
		s.sh.Apps[name] = engineApp(name, app, s)
	}
	if n, err := s.rec.Open(); err != nil {
		s.log.Warn("repairing unfinished recordings", "err", err)
	} else if n > 0 {
		s.log.Info("repaired unfinished recordings", "count", n)
	}
	if s.cfg.HTTPAddr != "" {
		s.loadWebLibs()
	}
	adminLn, err := s.listenAdmin()
	if err != nil {
		s.started.Store(false)
		return err
	}
	eng, err := s.startTransport(tick)
	if err != nil {
		if adminLn != nil {
			_ = adminLn.Close()
		}
		s.started.Store(false)
		return err
	}
	s.eng = eng
	if c := s.cfg.Cluster; c != nil && c.Redis != "" {
		adv := c.Advertise
		if adv == "" {
			adv = "rtmp://" + eng.Addrs()[0]
		}
		s.dir.Store(cluster.New(cluster.Config{Redis: c.Redis, Advertise: adv, TTL: c.TTL, Logger: s.log,
			Holds: func(app, stream string) bool {
				_, pub := s.reg.Publisher(app, stream)
				_, local := pub.(*rtmp.Session) // a pull from another node holds nothing
				return local
			}}))
	}
	ncfg := s.netConfig(eng.Addrs(), tick)
	if len(eng.Addrs()) > 1 {
		s.log.Info("http listening", "addr", eng.Addrs()[1], "player", "http://"+browsable(eng.Addrs()[1])+"/")
	}
	if s.cfg.tlsListeners() {
		if err := s.startTLS(ncfg); err != nil {
			_ = eng.Stop(context.Background())
			if adminLn != nil {
				_ = adminLn.Close()
			}
			s.started.Store(false)
			return err
		}
	}
	for _, app := range s.sh.Apps {
		if a := app.Hooks.(*appHooks).app; a.Pull != nil {
			for _, name := range a.Pull.Static {
				s.relays.Static(app, relay.Pull{Origins: a.Pull.Origins, RoundRobin: a.Pull.RoundRobin}, name)
			}
		}
	}
	s.applyMemoryLimit()
	s.serveAdmin(adminLn)
	s.holdSysmon()
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

// startTransport starts the RTMP (and HTTP) listeners; each connection tells
// which one accepted it (netpoll.Conn.ListenerKind).
func (s *Server) startTransport(tick time.Duration) (netpoll.Transport, error) {
	addrs := []string{s.cfg.RTMPAddr}
	if s.cfg.HTTPAddr != "" {
		addrs = append(addrs, s.cfg.HTTPAddr)
	}
	ncfg := s.netConfig(addrs, tick)
	ncfg.Kinds = []int{listenerRTMP, listenerHTTP}[:len(addrs)]
	switch s.cfg.Transport {
	case "", "gnet":
		return netpoll.Start(ncfg, (*transportPort)(s))
	case "std":
		return netpoll.StartStd(ncfg, (*transportPort)(s), nil)
	}
	return nil, fmt.Errorf("server: unknown transport %q (want gnet or std)", s.cfg.Transport)
}

// startTLS starts the TLS listeners (RTMPS, HTTPS) on the standard-library
// transport (gnet has no TLS), whose loops follow the plain ones.
func (s *Server) startTLS(ncfg netpoll.Config) error {
	tcfg := ncfg
	tcfg.Addrs, tcfg.Kinds = nil, nil
	if s.cfg.RTMPSAddr != "" {
		tcfg.Addrs, tcfg.Kinds = append(tcfg.Addrs, s.cfg.RTMPSAddr), append(tcfg.Kinds, listenerRTMPS)
	}
	if s.cfg.HTTPSAddr != "" {
		tcfg.Addrs, tcfg.Kinds = append(tcfg.Addrs, s.cfg.HTTPSAddr), append(tcfg.Kinds, listenerHTTPS)
	}
	tcfg.IndexBase = s.cfg.Loops
	eng, err := netpoll.StartStd(tcfg, (*transportPort)(s), s.cfg.TLS)
	if err != nil {
		return err
	}
	s.tlsEng = eng
	if a := s.RTMPSAddr(); a != "" {
		s.log.Info("rtmps listening", "addr", a)
	}
	if a := s.HTTPSAddr(); a != "" {
		s.log.Info("https listening", "addr", a, "player", "https://"+browsable(a)+"/")
	}
	return nil
}

// HTTPAddr returns the HTTP listen address with its port resolved, or "".
// Any goroutine, after Start.
func (s *Server) HTTPAddr() string {
	if s.eng == nil || len(s.eng.Addrs()) < 2 {
		return ""
	}
	return s.eng.Addrs()[1]
}

// RTMPSAddr returns the RTMPS listen address, or "". Any goroutine, after
// Start.
func (s *Server) RTMPSAddr() string {
	if s.tlsEng == nil || s.cfg.RTMPSAddr == "" {
		return ""
	}
	return s.tlsEng.Addrs()[0]
}

// HTTPSAddr returns the HTTPS/WSS listen address with its port resolved, or
// "". Any goroutine, after Start.
func (s *Server) HTTPSAddr() string {
	if s.tlsEng == nil || s.cfg.HTTPSAddr == "" {
		return ""
	}
	a := s.tlsEng.Addrs()
	return a[len(a)-1]
}

// RTMPAddr returns the RTMP listen address with its port resolved. Any
// goroutine, after Start.
func (s *Server) RTMPAddr() string {
	if s.eng == nil {
		return ""
	}
	return s.eng.Addrs()[0]
}

// Shutdown ends every publish (players receive an end of stream), closes every
// connection and stops the loops, or gives up when ctx ends. Any goroutine
// except a loop (it waits for the loops to stop).
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() || s.eng == nil {
		return ErrNotStarted
	}
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	s.sh.ShuttingDown.Store(true)
	s.stopAdmin(ctx)
	s.relays.Stop() // pulled streams end: their players get the end of stream
	close(s.stopJanitor)
	<-s.janitorDone
	// End every publish first so players receive Stream EOF and
	// NetStream.Play.UnpublishNotify before their connections close.
	pubs := s.reg.Publishers()
	for _, p := range pubs {
		p.(*rtmp.Session).CloseWith(ErrShutdown)
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
	s.hub.Close() // the window timers: the loops are gone
	if s.releaseSysmon != nil {
		s.releaseSysmon()
	}
	s.hooks.stop() // calls in flight are cancelled; their sessions are gone
	if d := s.dir.Load(); d != nil {
		_ = d.Close() // this node's claims are released
	}
	// Recordings whose end of stream could not be delivered are finished
	// here: the loops have stopped, so nothing more reaches them.
	s.reg.Close()
	s.rec.StopAll()
	s.rec.Wait()
	vodDone := make(chan struct{})
	go func() { s.sh.VODs.Wait(); close(vodDone) }()
	select { // recording plays end once their connections are closed
	case <-vodDone:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	s.log.Info("rtmp stopped")
	return err
}

// Stats is a snapshot of server counters.
type Stats struct {
	Connections      int64
	ConnectionsTotal uint64
	Streams          int
	Publishing       int
	Refused          uint64 // connections refused by the connection budgets
	Fanout           fanout.Stats
}

// Stats returns a snapshot. Safe from any goroutine.
func (s *Server) Stats() Stats {
	st := Stats{Connections: s.connsOpen.Load(), ConnectionsTotal: s.connsAll.Load(), Fanout: s.hub.Stats()}
	for v := range s.refused {
		st.Refused += s.refused[v].Load()
	}
	st.Streams, st.Publishing = s.reg.Counts()
	return st
}

// transportPort is the Server as its transports see it (netpoll.Handler): the
// callbacks stay out of the embedding API. It converts from *Server without
// allocating.
type transportPort Server

// OnOpen implements netpoll.Handler (loop-only).
func (p *transportPort) OnOpen(c netpoll.Conn) netpoll.Session { return (*Server)(p).open(c) }

// OnLoopTick implements netpoll.Handler (loop-only).
func (p *transportPort) OnLoopTick(l netpoll.EventLoop, now time.Time) {
	(*Server)(p).loopTick(l, now)
}

// open admits a new connection under the server's connection budgets
// (Config.MaxConnections and the per-address limits), or refuses it with one
// rate-limited log line, and returns its session.
func (s *Server) open(c netpoll.Conn) netpoll.Session {
	if s.closing.Load() {
		return nil
	}
	kind := c.ListenerKind()
	if v := s.admit.Admit(kind, c.RemoteAddr(), time.Now()); v != admission.Admitted {
		s.refused[v].Add(1)
		s.log.Warn("connection refused", "peer", c.RemoteAddr(), "reason", v.String())
		return nil
	}
	s.hub.AttachLoop(s.sh.Loops[c.Loop().Index()].Bind(c.Loop()))
	s.connsOpen.Add(1)
	s.connsAll.Add(1)
	if kind == listenerHTTP || kind == listenerHTTPS {
		h := httpflv.New(s.sh, c, kind)
		h.Handle = &Session{s: &h.Session}
		return h
	}
	r := rtmp.New(s.sh, c, kind)
	r.Handle = &Session{s: &r.Session}
	return r
}

// release returns a closed connection's slots in the connection budgets.
func (s *Server) release(kind int, remote string) {
	s.connsOpen.Add(-1)
	s.admit.Release(kind, remote)
}

// loopTick runs on every loop every tick: the sessions' deadlines and the
// fanout's overdue deliveries (viewers whose sockets were full).
func (s *Server) loopTick(l netpoll.EventLoop, now time.Time) {
	s.sh.Loops[l.Index()].Tick(now)
	s.hub.TickLoop(l.Index())
}

// String names the server. Any goroutine, after Start.
func (s *Server) String() string { return fmt.Sprintf("quaver server %s", s.RTMPAddr()) }

// Recorder returns the recording manager (list, find, repair). Any goroutine.
func (s *Server) Recorder() *recorder.Manager { return s.rec }

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
