package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/internal/schedbatch"
	"github.com/quaverlive/quaver/server"
)

// daemon is a running rtmpd: its server, its logger and the settings it runs
// with. Its methods run on run's goroutine, one at a time.
type daemon struct {
	inv   invocation
	env   []string
	log   *slog.Logger
	level *slog.LevelVar // the log level; SIGHUP changes it
	srv   *server.Server
	pprof net.Listener // nil when -pprof is off
	// running is every setting's value as the server runs with it (flag
	// name to text): a reload updates the live ones only.
	running         map[string]string
	shutdownTimeout time.Duration
	// cert is the RTMPS certificate, read by TLS handshakes on any
	// goroutine; SIGHUP reads the files again.
	cert atomic.Pointer[tls.Certificate]
	// reloadMu makes a SIGHUP and the admin API's reload take turns.
	reloadMu sync.Mutex
}

// startDaemon loads the configuration, starts the server and logs the
// version and every listener's address.
func startDaemon(inv invocation, env []string, stderr io.Writer) (*daemon, error) {
	st, err := loadSettings(inv, env)
	if err != nil {
		return nil, err
	}
	d := &daemon{inv: inv, env: env, level: new(slog.LevelVar), running: st.values, shutdownTimeout: st.opts.ShutdownTimeout}
	d.level.Set(st.level)
	hopts := &slog.HandlerOptions{Level: d.level}
	if st.opts.LogFormat == "json" {
		d.log = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		d.log = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	v := readVersion()
	attrs := []any{"version", v.Version}
	if v.Revision != "" {
		attrs = append(attrs, "revision", v.Revision, "modified", v.Modified)
	}
	d.log.Info("rtmpd starting", append(attrs, "go", v.Go, "config", inv.configPath)...)
	for _, name := range st.unknownEnv {
		d.log.Warn("environment variable names no setting; ignored", "name", name)
	}
	if st.opts.SchedBatch {
		n, err := schedbatch.Apply()
		if err != nil {
			return nil, fmt.Errorf("-sched-batch: %w", err)
		}
		d.log.Info("threads under SCHED_BATCH", "changed", n)
	}

	cfg := st.serverConfig()
	cfg.Logger = d.log
	cfg.Reload = d.reload // POST /api/v1/reload does what SIGHUP does
	if st.cert != nil {
		d.cert.Store(st.cert)
		cfg.TLS = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return d.cert.Load(), nil
			},
		}
	}
	srv := server.New(cfg)
	if err := srv.SetApps(st.apps); err != nil {
		return nil, err
	}
	if st.opts.Pprof != "" {
		if d.pprof, err = startPprof(st.opts.Pprof, d.log); err != nil {
			return nil, err
		}
	}
	if err := srv.Start(); err != nil {
		if d.pprof != nil {
			_ = d.pprof.Close()
		}
		return nil, explainListenError(err, listeners(&st.opts))
	}
	d.srv = srv
	pprofAddr := ""
	if d.pprof != nil {
		pprofAddr = d.pprof.Addr().String()
	}
	d.log.Info("rtmpd started", "version", v.Version, "rtmp", srv.RTMPAddr(), "http", srv.HTTPAddr(),
		"rtmps", srv.RTMPSAddr(), "https", srv.HTTPSAddr(), "admin", srv.AdminAddr(), "pprof", pprofAddr, "apps", appNames(st.apps))
	return d, nil
}

// shutdown stops the server (players get an end of stream), waiting at most
// -shutdown-timeout for connections to close.
func (d *daemon) shutdown(cause error) error {
	d.log.Info("shutting down", "signal", cause)
	ctx, cancel := context.WithTimeout(context.Background(), d.shutdownTimeout)
	defer cancel()
	err := d.srv.Shutdown(ctx)
	if d.pprof != nil {
		_ = d.pprof.Close()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
