package netpoll

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"

	"github.com/panjf2000/gnet/v2"
)

// Start resolves the listen addresses, starts the reactor and returns once it
// accepts connections. Cancelling ctx does not stop it; call Stop.
func Start(cfg Config, h Handler) (*Engine, error) {
	applyDefaults(&cfg)
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("netpoll: no listen address")
	}
	if err := checkKinds(cfg); err != nil {
		return nil, err
	}
	// gnet binds by address and cannot report an OS-chosen port, so a port 0
	// is resolved to a free port first; another process can take it before
	// gnet binds, and such a start is retried with fresh ports.
	ephemeral := false
	for _, a := range cfg.Addrs {
		if _, port, err := net.SplitHostPort(a); err == nil && (port == "0" || port == "") {
			ephemeral = true
		}
	}
	for attempt := 1; ; attempt++ {
		e, err := start(cfg, h)
		if err == nil || !ephemeral || attempt == maxStartAttempts || !errors.Is(err, syscall.EADDRINUSE) {
			return e, err
		}
		cfg.Logger.Debug("listen on a resolved port failed; retrying", "err", err)
	}
}

// maxStartAttempts bounds the retries of a start on resolved ephemeral ports.
const maxStartAttempts = 5

func start(cfg Config, h Handler) (*Engine, error) {
	e := &Engine{
		cfg:    cfg,
		h:      h,
		log:    cfg.Logger,
		kinds:  map[int]int{},
		loops:  map[gnet.EventLoop]*Loop{},
		booted: make(chan struct{}),
		done:   make(chan error, 1),
	}
	var proto []string
	// Ports resolved from 0 stay held until every address is resolved, so two
	// listeners never get the same port.
	var held []net.Listener
	release := func() { // before gnet binds the ports
		for _, ln := range held {
			_ = ln.Close()
		}
	}
	for i, a := range cfg.Addrs {
		resolved, port, err := resolveAddr(a, &held)
		if err != nil {
			release()
			return nil, err
		}
		if k, ok := e.kinds[port]; ok && k != cfg.kind(i) {
			release()
			return nil, fmt.Errorf("%w: port %d has kinds %d and %d", ErrBadKinds, port, k, cfg.kind(i))
		}
		e.addrs = append(e.addrs, resolved)
		e.kinds[port] = cfg.kind(i)
		proto = append(proto, "tcp://"+resolved)
	}
	release()
	opts := []gnet.Option{
		gnet.WithNumEventLoop(cfg.Loops),
		gnet.WithTicker(true),
		gnet.WithReadBufferCap(cfg.ReadBufferCap),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReuseAddr(true),
		gnet.WithLogger(slogAdapter{cfg.Logger.With("component", "gnet")}),
	}
	// Keep-alive is set on each accepted socket (OnOpen), not with
	// gnet.WithTCPKeepAlive: gnet 2.10 sets it on the listener after a failed
	// bind too, on the descriptor the bind closed. That overwrites the bind's
	// error (a busy port reads as "setsockopt: bad file descriptor", which
	// Start does not retry), and when another goroutine has reused the
	// number meanwhile, the setsockopt succeeds and gnet goes on with that
	// goroutine's socket as its listener.
	if cfg.SocketSendBuffer > 0 {
		opts = append(opts, gnet.WithSocketSendBuffer(cfg.SocketSendBuffer))
	}
	go func() {
		err := gnet.Rotate(e, proto, opts...)
		// The error goes out before booted closes: a start that failed (a
		// busy port) must not look booted to the select below, which it did
		// about one time in ten when done was sent after the close.
		e.done <- err
		select {
		case <-e.booted:
		default:
			close(e.booted)
		}
	}()
	<-e.booted
	select {
	case err := <-e.done:
		if err == nil {
			err = ErrStopped
		}
		return nil, fmt.Errorf("netpoll: start: %w", err)
	default:
	}
	return e, nil
}

func defaultLoops() int { return runtime.GOMAXPROCS(0) }

// kind returns the listener kind of Addrs[i].
func (cfg *Config) kind(i int) int {
	if i < len(cfg.Kinds) {
		return cfg.Kinds[i]
	}
	return 0
}

// checkKinds validates Config.Kinds against Config.Addrs (ports of 0 are
// resolved later, and always differ).
func checkKinds(cfg Config) error {
	if len(cfg.Kinds) > len(cfg.Addrs) {
		return fmt.Errorf("%w: %d kinds for %d addresses", ErrBadKinds, len(cfg.Kinds), len(cfg.Addrs))
	}
	return nil
}

// resolveAddr turns a port-0 address into a concrete free port (gnet cannot
// report the port it bound). It returns the address and its port. The
// listener that reserved the port is appended to hold for the caller to close
// (nil: closed at once).
func resolveAddr(a string, hold *[]net.Listener) (string, int, error) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, fmt.Errorf("netpoll: listen address %q: %w", a, err)
	}
	if port != "0" && port != "" {
		p, err := strconv.Atoi(port)
		if err != nil {
			return "", 0, fmt.Errorf("netpoll: listen address %q: %w", a, err)
		}
		return a, p, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", 0, fmt.Errorf("netpoll: resolve %q: %w", a, err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	if hold != nil {
		*hold = append(*hold, ln)
	} else {
		_ = ln.Close()
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), p, nil
}
