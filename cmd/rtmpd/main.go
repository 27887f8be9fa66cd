// Command rtmpd is Quaver's streaming daemon: RTMP ingest and play on a gnet
// event-loop reactor, with a chunk-once fanout and a GOP cache.
//
// Every flag can also be set in a JSON config file (-config FILE) under the same
// key; flags given on the command line win over the file.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "repair" {
		os.Exit(repair(os.Args[2:]))
	}
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rtmpd:", err)
		os.Exit(1)
	}
}

// startPprof serves the profiling endpoints on a separate, loopback-only listener.
func startPprof(addr string, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-pprof: %q is not a loopback address; the profiler must not be reachable from the network", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof listening", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}

// repair finishes recordings left unfinished by a crash: rtmpd repair FILE...
func repair(files []string) int {
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: rtmpd repair FILE.flv...")
		return 2
	}
	status := 0
	for _, f := range files {
		in, err := recorder.Repair(f, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rtmpd repair: %s: %v\n", f, err)
			status = 1
			continue
		}
		fmt.Printf("%s: repaired, duration %.3fs, %d bytes\n", f, in.Duration, in.Size)
	}
	return status
}

// options are the daemon's settings; each has a flag and a config-file key.
type options struct {
	RTMP            string        `json:"rtmp"`
	HTTP            string        `json:"http"`
	Admin           string        `json:"admin"`
	AdminToken      string        `json:"admin-token"`
	RecordDir       string        `json:"record-dir"`
	WebDir          string        `json:"web-dir"`
	RecordTemplate  string        `json:"record-template"`
	RecordFlush     time.Duration `json:"record-flush"`
	RotateDuration  time.Duration `json:"record-rotate-duration"`
	RotateSize      int64         `json:"record-rotate-size"`
	Loops           int           `json:"loops"`
	LogLevel        string        `json:"log-level"`
	LogFormat       string        `json:"log-format"`
	ChunkSize       uint          `json:"chunk-size"`
	BatchWindow     time.Duration `json:"batch-window"`
	GOPCache        bool          `json:"gop-cache"`
	Republish       string        `json:"republish"`
	PublisherIdle   time.Duration `json:"publisher-idle"`
	RepublishGrace  time.Duration `json:"republish-grace"`
	HandshakeTime   time.Duration `json:"handshake-timeout"`
	IdleTimeout     time.Duration `json:"idle-timeout"`
	MaxConnections  int           `json:"max-connections"`
	MaxConnsPerIP   int           `json:"max-connections-per-ip"`
	AcceptRate      float64       `json:"accept-rate-per-ip"`
	AcceptBurst     int           `json:"accept-burst-per-ip"`
	TrustedNets     string        `json:"trusted-nets"`
	MaxIdleStreams  int           `json:"max-idle-streams"`
	MaxNamesPerConn int           `json:"max-names-per-conn"`
	MaxPartial      int64         `json:"max-partial-bytes"`
	PartialTimeout  time.Duration `json:"partial-timeout"`
	MaxBacklog      int           `json:"max-control-backlog"`
	MaxVODPlays     int           `json:"max-vod-plays"`
	MaxVODPerIP     int           `json:"max-vod-plays-per-ip"`
	MemoryLimit     int64         `json:"memory-limit"`
	LogRate         float64       `json:"log-rate"`
	LogBurst        int           `json:"log-burst"`
	MaxMessageSize  uint          `json:"max-message-size"`
	HighWater       int           `json:"high-water"`
	HardCap         int           `json:"hard-cap"`
	ShutdownTimeout time.Duration `json:"shutdown-timeout"`
	Transport       string        `json:"transport"`
	Pprof           string        `json:"pprof"`
	SendBuffer      int           `json:"send-buffer"`
	StallTimeout    time.Duration `json:"stall-timeout"`
	RTMPS           string        `json:"rtmps"`
	TLSCert         string        `json:"tls-cert"`
	TLSKey          string        `json:"tls-key"`
}

func defaults() options {
	return options{
		RTMP:            server.DefaultRTMPAddr,
		HTTP:            ":8080",
		Admin:           "127.0.0.1:9090",
		RecordDir:       "./record",
		WebDir:          "web",
		Loops:           runtime.GOMAXPROCS(0),
		LogLevel:        "info",
		LogFormat:       "text",
		ChunkSize:       4096,
		BatchWindow:     server.DefaultBatchWindow,
		GOPCache:        true,
		Republish:       "reject",
		PublisherIdle:   server.DefaultPublisherIdleTimeout,
		HandshakeTime:   server.DefaultHandshakeTimeout,
		IdleTimeout:     server.DefaultIdleTimeout,
		ShutdownTimeout: 5 * time.Second,
		Transport:       "gnet",
	}
}

func bindFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.RTMP, "rtmp", o.RTMP, "RTMP listen `address`")
	fs.StringVar(&o.HTTP, "http", o.HTTP, "HTTP listen `address` for HTTP-FLV, WebSocket-FLV and the player page (empty disables)")
	fs.StringVar(&o.Admin, "admin", o.Admin, "admin listen `address`: /api/v1/, /metrics, /healthz, /debug/pprof/ (empty disables; beyond loopback needs -admin-token)")
	fs.StringVar(&o.AdminToken, "admin-token", o.AdminToken, "bearer `token` every admin request must carry (Authorization: Bearer TOKEN)")
	fs.StringVar(&o.WebDir, "web-dir", o.WebDir, "`directory` whose node_modules holds the player page's libraries (make web)")
	fs.StringVar(&o.RecordDir, "record-dir", o.RecordDir, "recordings `directory`; the record app records every publish, and a name that is not live plays its newest recording")
	fs.StringVar(&o.RecordTemplate, "record-template", recorder.DefaultTemplate, "recording file name inside -record-dir: {app}, {stream}, {time}, {date}, {unix}")
	fs.DurationVar(&o.RecordFlush, "record-flush", recorder.DefaultFlushInterval, "longest time recorded data waits before it is written (what kill -9 can lose)")
	fs.DurationVar(&o.RotateDuration, "record-rotate-duration", 0, "start a new recording file at the next keyframe after this long (0 = never)")
	fs.Int64Var(&o.RotateSize, "record-rotate-size", 0, "start a new recording file at the next keyframe after this many bytes (0 = never)")
	fs.IntVar(&o.Loops, "loops", o.Loops, "number of event loops (default GOMAXPROCS)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "log format: text or json")
	fs.UintVar(&o.ChunkSize, "chunk-size", o.ChunkSize, "outbound RTMP chunk size in bytes")
	fs.DurationVar(&o.BatchWindow, "batch-window", o.BatchWindow, "merge each viewer's writes over this window: fewer system calls per byte for up to this much added latency (0 = send at once, lowest latency; a joining viewer always gets its first frames at once)")
	fs.BoolVar(&o.GOPCache, "gop-cache", o.GOPCache, "start new players at the last keyframe")
	fs.StringVar(&o.Republish, "republish", o.Republish, "second publisher of a live stream: reject or replace")
	fs.DurationVar(&o.PublisherIdle, "publisher-idle", o.PublisherIdle, "drop a publisher that sends no media this long")
	fs.DurationVar(&o.HandshakeTime, "handshake-timeout", o.HandshakeTime, "time allowed for handshake and connect")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "close connections that neither publish nor play and send nothing this long")
	fs.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "refuse connections beyond this many; each listener keeps a tenth for itself (0 = the open-file limit less a reserve, -1 = unlimited)")
	fs.IntVar(&o.MaxConnsPerIP, "max-connections-per-ip", o.MaxConnsPerIP, "open connections allowed from one IPv4 address or IPv6 /64 (0 = 256, -1 = unlimited)")
	fs.Float64Var(&o.AcceptRate, "accept-rate-per-ip", o.AcceptRate, "new connections per second allowed from one address after its burst (0 = 50, -1 = unlimited)")
	fs.IntVar(&o.AcceptBurst, "accept-burst-per-ip", o.AcceptBurst, "new connections one address may open at once (0 = 200)")
	fs.StringVar(&o.TrustedNets, "trusted-nets", o.TrustedNets, "comma-separated `CIDRs` exempt from the per-address limits (a local reverse proxy, a load generator)")
	fs.IntVar(&o.MaxIdleStreams, "max-idle-streams", o.MaxIdleStreams, "streams known without a publisher (players waiting, or lingering after a publish) (0 = 4096)")
	fs.IntVar(&o.MaxNamesPerConn, "max-names-per-conn", o.MaxNamesPerConn, "stream names one connection may bring into the registry over its life (0 = 64)")
	fs.Int64Var(&o.MaxPartial, "max-partial-bytes", o.MaxPartial, "bytes held in partly received RTMP messages, all connections together (0 = 256 MiB)")
	fs.DurationVar(&o.PartialTimeout, "partial-timeout", o.PartialTimeout, "close a connection that does not complete a started RTMP message within this (0 = 30s)")
	fs.IntVar(&o.MaxBacklog, "max-control-backlog", o.MaxBacklog, "close a connection that is not playing once this many reply bytes wait for it to read (0 = 1 MiB)")
	fs.IntVar(&o.MaxVODPlays, "max-vod-plays", o.MaxVODPlays, "recordings played at once (0 = 256)")
	fs.IntVar(&o.MaxVODPerIP, "max-vod-plays-per-ip", o.MaxVODPerIP, "recordings played at once by one address (0 = 8, -1 = unlimited)")
	fs.Int64Var(&o.MemoryLimit, "memory-limit", o.MemoryLimit, "Go runtime soft memory limit in bytes (0 = none)")
	fs.Float64Var(&o.LogRate, "log-rate", o.LogRate, "lines per second allowed for each log message after its burst; the rest are counted and summarised (0 = 5)")
	fs.IntVar(&o.LogBurst, "log-burst", o.LogBurst, "lines of one log message allowed at once (0 = 20)")
	fs.UintVar(&o.MaxMessageSize, "max-message-size", o.MaxMessageSize, "largest inbound RTMP message in bytes (0 = 8 MiB)")
	fs.IntVar(&o.HighWater, "high-water", o.HighWater, "per-player queued bytes above which it skips to the next keyframe (0 = 1 MiB)")
	fs.IntVar(&o.HardCap, "hard-cap", o.HardCap, "per-player queued bytes above which it is disconnected (0 = 16 MiB)")
	fs.StringVar(&o.Transport, "transport", o.Transport, "RTMP transport: gnet (event loops) or std (standard library, baseline)")
	fs.IntVar(&o.SendBuffer, "send-buffer", o.SendBuffer, "SO_SNDBUF per connection in bytes: the kernel memory a viewer that stops reading can hold (0 = 256 KiB, -1 = the kernel's autotuning)")
	fs.DurationVar(&o.RepublishGrace, "republish-grace", o.RepublishGrace, "players of a stream whose publisher left wait this long for the next publisher of the name (0 = 5s; negative: end at once)")
	fs.DurationVar(&o.StallTimeout, "stall-timeout", o.StallTimeout, "disconnect a viewer whose queued bytes stay above the low watermark this long (0 = 15s)")
	fs.StringVar(&o.Pprof, "pprof", o.Pprof, "serve net/http/pprof on this loopback `address` (e.g. 127.0.0.1:6060; off when empty)")
	fs.StringVar(&o.RTMPS, "rtmps", o.RTMPS, "RTMPS (TLS) listen `address`; needs -tls-cert and -tls-key")
	fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "TLS certificate `file` (PEM) for -rtmps")
	fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "TLS private key `file` (PEM) for -rtmps")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long SIGINT/SIGTERM waits for connections to close")
}

// loadConfig reads a JSON object whose keys are flag names. Durations are strings
// such as "5s".
func loadConfig(path string, o *options) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindFlags(fs, o)
	for k, v := range raw {
		f := fs.Lookup(k)
		if f == nil {
			return fmt.Errorf("config %s: unknown key %q", path, k)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			s = strings.TrimSpace(string(v)) // numbers and booleans
		}
		if err := f.Value.Set(s); err != nil {
			return fmt.Errorf("config %s: key %q: %w", path, k, err)
		}
	}
	return nil
}

func run(args []string, stderr io.Writer) error {
	o := defaults()
	fs := flag.NewFlagSet("rtmpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "optional JSON config `file`; keys are flag names, flags override it")
	bindFlags(fs, &o)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: rtmpd [flags]\n\nQuaver RTMP streaming server. Publish to rtmp://HOST/live/NAME, play the same URL.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *configPath != "" {
		fromFile := defaults()
		if err := loadConfig(*configPath, &fromFile); err != nil {
			return err
		}
		// Command-line flags win: re-apply the ones that were set on top of the file.
		o = fromFile
		fs2 := flag.NewFlagSet("cli", flag.ContinueOnError)
		fs2.SetOutput(io.Discard)
		bindFlags(fs2, &o)
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "config" {
				_ = fs2.Set(f.Name, f.Value.String())
			}
		})
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if o.LogFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	slog.SetDefault(logger)

	var policy server.RepublishPolicy
	switch o.Republish {
	case "reject":
		policy = server.RepublishReject
	case "replace":
		policy = server.RepublishReplace
	default:
		return fmt.Errorf("-republish: want reject or replace, got %q", o.Republish)
	}

	cfg := server.Config{
		RTMPAddr:              o.RTMP,
		HTTPAddr:              o.HTTP,
		AdminAddr:             o.Admin,
		AdminToken:            o.AdminToken,
		RecordDir:             o.RecordDir,
		WebDir:                o.WebDir,
		Loops:                 o.Loops,
		Logger:                logger,
		ChunkSize:             uint32(o.ChunkSize),
		HandshakeTimeout:      o.HandshakeTime,
		IdleTimeout:           o.IdleTimeout,
		MaxConnections:        o.MaxConnections,
		MaxConnectionsPerIP:   o.MaxConnsPerIP,
		AcceptRatePerIP:       o.AcceptRate,
		AcceptBurstPerIP:      o.AcceptBurst,
		MaxIdleStreams:        o.MaxIdleStreams,
		MaxNamesPerConn:       o.MaxNamesPerConn,
		MaxPartialBytes:       o.MaxPartial,
		PartialMessageTimeout: o.PartialTimeout,
		MaxControlBacklog:     o.MaxBacklog,
		MaxVODPlays:           o.MaxVODPlays,
		MaxVODPlaysPerIP:      o.MaxVODPerIP,
		MemoryLimit:           o.MemoryLimit,
		LogRate:               o.LogRate,
		LogBurst:              o.LogBurst,
		MaxMessageSize:        uint32(o.MaxMessageSize),
		SocketSendBuffer:      o.SendBuffer,
	}
	cfg.Recorder = recorder.Config{
		Template:       o.RecordTemplate,
		FlushInterval:  o.RecordFlush,
		RotateDuration: o.RotateDuration,
		RotateSize:     o.RotateSize,
	}
	cfg.Transport = o.Transport
	for _, n := range strings.Split(o.TrustedNets, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return fmt.Errorf("-trusted-nets: %w", err)
		}
		cfg.TrustedNets = append(cfg.TrustedNets, p)
	}
	if o.RTMPS != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("-rtmps: %w", err)
		}
		cfg.RTMPSAddr = o.RTMPS
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	cfg.Fanout.BatchWindow = o.BatchWindow
	if o.BatchWindow == 0 {
		cfg.Fanout.BatchWindow = -1 // the library's "send at once"
	}
	cfg.Fanout.HighWater = o.HighWater
	cfg.Fanout.HardCap = o.HardCap
	cfg.Fanout.StallTimeout = o.StallTimeout
	cfg.RepublishGrace = o.RepublishGrace
	srv := server.New(cfg)
	for _, name := range []string{"live", "record"} {
		srv.Handle(name, &server.App{
			DisableGOPCache:      !o.GOPCache,
			Republish:            policy,
			PublisherIdleTimeout: o.PublisherIdle,
			Record:               name == "record",
			VOD:                  name == "record",
		})
	}
	if o.Pprof != "" {
		if err := startPprof(o.Pprof, logger); err != nil {
			return err
		}
	}
	if err := srv.Start(); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Info("shutting down", "signal", context.Cause(ctx))
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
