package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"syscall"
)

// listener is one address the server listens on, by its setting's key.
type listener struct{ key, addr string }

// listeners are the server's listen addresses, the last to start first.
func listeners(o *options) []listener {
	return []listener{{"rtmps", o.RTMPS}, {"http", o.HTTP}, {"rtmp", o.RTMP}}
}

// explainListenError names the address a failed start could not listen on:
// the transports' errors do not always say which one it was. It tries each
// address with a fixed port again, the last to start first (a listener that
// started before the failure is closed by then), and names the first that
// cannot be bound with why (the port is taken, or a port below 1024 needs a
// privilege). Other errors are returned as they are.
func explainListenError(err error, ls []listener) error {
	if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) &&
		!strings.Contains(err.Error(), "address already in use") && !strings.Contains(err.Error(), "permission denied") {
		return err
	}
	for _, l := range ls {
		_, port, perr := net.SplitHostPort(l.addr)
		if l.addr == "" || perr != nil || port == "" || port == "0" {
			continue
		}
		ln, lerr := net.Listen("tcp", l.addr)
		if lerr == nil {
			_ = ln.Close()
			continue
		}
		switch {
		case errors.Is(lerr, syscall.EADDRINUSE):
			return fmt.Errorf("%s %s: port %s is already in use (another rtmpd or another program listens there): %w", l.key, l.addr, port, err)
		case errors.Is(lerr, syscall.EACCES):
			return fmt.Errorf("%s %s: port %s needs privileges (ports below 1024 need CAP_NET_BIND_SERVICE): %w", l.key, l.addr, port, err)
		}
		return fmt.Errorf("%s %s: %w", l.key, l.addr, lerr)
	}
	return err
}

// startPprof serves the profiling endpoints on a separate, loopback-only
// listener, which it returns (closing it stops them).
func startPprof(addr string, log *slog.Logger) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("pprof: %q is not a loopback address; the profiler must not be reachable from the network", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return ln, nil
}
