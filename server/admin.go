package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/quaverlive/quaver/internal/admin"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/mediainfo"
	"github.com/quaverlive/quaver/internal/rtmp"
	"github.com/quaverlive/quaver/recorder"
)

// The admin listener (Config.AdminAddr): the operator's API, metrics, health
// and the profiler on net/http, apart from the public port. Its goroutines
// (the accept loop and one per connection, at most DefaultMaxAdminConns) are
// owned by the Server: Shutdown stops the http.Server and waits for them.

// adminReadHeaderTimeout bounds an admin request head (a slow client cannot
// hold a connection slot for long without sending one).
const adminReadHeaderTimeout = 10 * time.Second

// adminShutdownGrace is how long Shutdown lets admin requests in flight
// finish (a CPU profile may run for many seconds) before it closes their
// connections, so the rest of the shutdown keeps its time.
const adminShutdownGrace = time.Second

// listenAdmin checks the admin address and binds it (before the transports
// start, so a refusal leaves nothing running).
func (s *Server) listenAdmin() (net.Listener, error) {
	if s.cfg.AdminAddr == "" {
		return nil, nil
	}
	if s.cfg.AdminToken == "" && !isLoopback(s.cfg.AdminAddr) {
		return nil, fmt.Errorf("%w: set AdminToken (rtmpd -admin-token) or bind %q to 127.0.0.1", ErrAdminToken, s.cfg.AdminAddr)
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("server: admin listener: %w", err)
	}
	return &limitListener{Listener: ln, sem: make(chan struct{}, DefaultMaxAdminConns)}, nil
}

// isLoopback reports whether a listen address binds only loopback: an IP in
// 127.0.0.0/8 or ::1, or "localhost". An empty host (all interfaces) or any
// other name is not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveAdmin starts serving the admin API on ln (Start).
func (s *Server) serveAdmin(ln net.Listener) {
	if ln == nil {
		return
	}
	s.adminSrv = &http.Server{
		Handler:           admin.New((*adminBackend)(s), admin.Options{Token: s.cfg.AdminToken, Metrics: s.metricsHandler()}),
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.adminAddr = ln.Addr().String()
	s.adminDone = make(chan struct{})
	go func() {
		defer close(s.adminDone)
		if err := s.adminSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener stopped", "err", err)
		}
	}()
	s.log.Info("admin listening", "addr", s.adminAddr, "token", s.cfg.AdminToken != "")
}

// stopAdmin shuts the admin server down and waits for its goroutines; it
// closes the connections of requests still running after adminShutdownGrace
// (or when ctx ends first).
func (s *Server) stopAdmin(ctx context.Context) {
	if s.adminSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, adminShutdownGrace)
	defer cancel()
	if err := s.adminSrv.Shutdown(ctx); err != nil {
		_ = s.adminSrv.Close()
	}
	<-s.adminDone
}

// AdminAddr returns the admin listen address with its port resolved, or "".
// Any goroutine, after Start.
func (s *Server) AdminAddr() string { return s.adminAddr }

// limitListener caps open admin connections: Accept waits while the cap is
// reached (a connection held open costs a goroutine).
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// adminBackend is the Server as the admin API sees it (admin.Backend).
type adminBackend Server

// protocolOf names a connection's protocol before it plays (by listener).
func kindProtocol(kind int) string {
	if kind == listenerHTTP {
		return "http"
	}
	return "rtmp"
}

// Streams implements admin.Backend.
func (b *adminBackend) Streams() []admin.Stream {
	s := (*Server)(b)
	viewers := map[string]map[string]int{}
	for _, sess := range s.sh.Sessions() {
		if a := sess.Activity(); a != nil && a.Role == engine.RolePlayer {
			k := a.Key()
			if viewers[k] == nil {
				viewers[k] = map[string]int{}
			}
			viewers[k][a.Protocol]++
		}
	}
	list := s.reg.List()
	out := make([]admin.Stream, 0, len(list))
	now := time.Now()
	for _, in := range list {
		st := admin.Stream{App: in.App, Name: in.Name, Publishing: in.Publishing, Subscribers: in.Subscribers,
			Viewers: map[string]int{"rtmp": 0, "http": 0, "ws": 0}}
		for p, n := range viewers[in.App+"/"+in.Name] {
			st.Viewers[p] = n
		}
		rs, p := s.reg.Publisher(in.App, in.Name)
		if rs != nil {
			st.Recording = s.reg.Recording(rs) != nil
		}
		if pub, _ := p.(*rtmp.Session); pub != nil && rs != nil {
			st.Publishing = true
			st.Publisher = &admin.Publisher{ClientID: pub.ID, Peer: pub.Conn.RemoteAddr()}
			st.Info = mediainfo.Of(rs.Fanout)
			if a := pub.Activity(); a != nil && a.Role == engine.RolePublisher {
				d := now.Sub(a.Since)
				st.UptimeSeconds = d.Round(time.Millisecond).Seconds()
				if d > 0 {
					st.BitrateInKbps = int64(float64(pub.BytesIn.Load()-a.BytesIn) * 8 / d.Seconds() / 1000)
				}
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].App != out[j].App {
			return out[i].App < out[j].App
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Clients implements admin.Backend.
func (b *adminBackend) Clients() []admin.Client {
	s := (*Server)(b)
	sessions := s.sh.Sessions()
	out := make([]admin.Client, 0, len(sessions))
	for _, sess := range sessions {
		c := admin.Client{ID: sess.ID, Protocol: kindProtocol(sess.Kind), Peer: sess.Conn.RemoteAddr(),
			Since: sess.Created, BytesIn: sess.BytesIn.Load(), BytesOut: sess.BytesOut()}
		if a := sess.Activity(); a != nil {
			c.App, c.Stream, c.Role = a.App, a.Name, a.Role.String()
			if a.Protocol != "" {
				c.Protocol = a.Protocol
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// errKicked is why a kicked connection closes (in its log line).
var errKicked = errors.New("server: closed by an operator (admin API)")

// Kick implements admin.Backend.
func (b *adminBackend) Kick(id uint64) error {
	sess := (*Server)(b).sh.Session(id)
	if sess == nil {
		return fmt.Errorf("%w: no client %d", admin.ErrNotFound, id)
	}
	sess.CloseWith(errKicked)
	return nil
}

// StartRecording implements admin.Backend.
func (b *adminBackend) StartRecording(app, name string) error {
	return adminError((*Server)(b).StartRecording(app, name))
}

// StopRecording implements admin.Backend.
func (b *adminBackend) StopRecording(app, name string) error {
	return adminError((*Server)(b).StopRecording(app, name))
}

// adminError adds the admin API's status to a recording error.
func adminError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotPublished), errors.Is(err, ErrNotRecording):
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	case errors.Is(err, ErrRecording):
		return fmt.Errorf("%w: %w", admin.ErrConflict, err)
	}
	return err
}

// Recordings implements admin.Backend: every recording in the index,
// whichever app (the public port lists only those of apps with VOD).
// Relays implements admin.Backend.
func (b *adminBackend) Relays() any { return b.relays.Relays() }

func (b *adminBackend) Recordings() any {
	list := (*Server)(b).rec.List()
	if list == nil {
		list = []recorder.Info{}
	}
	return list
}

// Reload implements admin.Backend.
func (b *adminBackend) Reload() error {
	s := (*Server)(b)
	if s.cfg.Reload == nil {
		return fmt.Errorf("%w: no reload function is set (Config.Reload)", admin.ErrNotImplemented)
	}
	if err := s.cfg.Reload(); err != nil {
		return fmt.Errorf("server: reload: %w", err)
	}
	s.log.Info("configuration reloaded (admin API)")
	return nil
}

// configSecrets are the fields GET /api/v1/config never shows.
var configSecrets = map[string]bool{
	"AdminToken":  true,
	"TLS":         true, // certificates and private keys
	"TokenSecret": true, // Access
	"Keys":        true, // Access stream keys
}

// Config implements admin.Backend: the effective Config and the apps, with
// secrets redacted.
func (b *adminBackend) Config() any {
	s := (*Server)(b)
	return map[string]any{
		"config": admin.Redact(&s.cfg, configSecrets),
		"apps":   admin.Redact(s.apps, configSecrets),
	}
}
