package main

import (
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/server"
)

// options are the daemon's top-level settings. Each has a flag (bindFlags),
// a key in the config file (the flag's name, with '_' or '-') and an
// environment variable (RTMPD_ and the key upper-cased with '_').
type options struct {
	RTMP             string
	HTTP             string
	RecordDir        string
	WebDir           string
	RecordTemplate   string
	RecordFlush      time.Duration
	RotateDuration   time.Duration
	RotateSize       int64
	Loops            int
	LogLevel         string
	LogFormat        string
	ChunkSize        uint
	BatchWindow      time.Duration
	GOPCache         bool
	Republish        string
	PublisherIdle    time.Duration
	RepublishGrace   time.Duration
	HandshakeTime    time.Duration
	IdleTimeout      time.Duration
	MaxConnections   int
	MaxConnsPerIP    int
	AcceptRate       float64
	AcceptBurst      int
	TrustedNets      string
	MaxIdleStreams   int
	MaxNamesPerConn  int
	MaxPartial       int64
	PartialTimeout   time.Duration
	MaxBacklog       int
	MaxVODPlays      int
	MaxVODPerIP      int
	MemoryLimit      int64
	LogRate          float64
	LogBurst         int
	MaxMessageSize   uint
	HighWater        int
	HardCap          int
	ShutdownTimeout  time.Duration
	Transport        string
	Pprof            string
	SendBuffer       int
	StallTimeout     time.Duration
	RTMPS            string
	HTTPS            string
	Admin            string
	AdminToken       string
	MaxPulls         int
	ClusterRedis     string
	ClusterAdvertise string
	ClusterTTL       time.Duration
	TLSCert          string
	TLSKey           string
	SchedBatch       bool
	SysmonBatch      bool
}

// Allowed values of the settings that take one of a few words.
var (
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"text", "json"}
	republishes = []string{"reject", "replace"}
	transports  = []string{"gnet", "std"}
)

func defaults() options {
	return options{
		RTMP:            server.DefaultRTMPAddr,
		HTTP:            ":8080",
		Admin:           "127.0.0.1:9090",
		RecordDir:       "./record",
		WebDir:          "web",
		RecordTemplate:  recorder.DefaultTemplate,
		RecordFlush:     recorder.DefaultFlushInterval,
		Loops:           runtime.GOMAXPROCS(0),
		LogLevel:        "info",
		LogFormat:       "text",
		ChunkSize:       4096,
		BatchWindow:     server.DefaultBatchWindow,
		GOPCache:        true,
		Republish:       "reject",
		HandshakeTime:   server.DefaultHandshakeTimeout,
		IdleTimeout:     server.DefaultIdleTimeout,
		ShutdownTimeout: 5 * time.Second,
		Transport:       "gnet",
		SysmonBatch:     true,
	}
}

// bindFlags defines a flag for every setting in fs, bound to o: the one list
// of keys the command line, the config file and the environment share.
func bindFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.RTMP, "rtmp", o.RTMP, "RTMP listen `address`")
	fs.StringVar(&o.HTTP, "http", o.HTTP, "HTTP listen `address` for HTTP-FLV, WebSocket-FLV, the player page and /metrics (empty disables)")
	fs.StringVar(&o.WebDir, "web-dir", o.WebDir, "`directory` whose node_modules holds the player page's libraries (make web); a binary from make build carries its own copies")
	fs.StringVar(&o.RecordDir, "record-dir", o.RecordDir, "recordings `directory`; the record app records every publish, and a name that is not live plays its newest recording")
	fs.StringVar(&o.RecordTemplate, "record-template", o.RecordTemplate, "recording file name inside -record-dir: {app}, {stream}, {time}, {date}, {unix}")
	fs.DurationVar(&o.RecordFlush, "record-flush", o.RecordFlush, "longest time recorded data waits before it is written (what kill -9 can lose)")
	fs.DurationVar(&o.RotateDuration, "record-rotate-duration", o.RotateDuration, "start a new recording file at the next keyframe after this long (0 = never)")
	fs.Int64Var(&o.RotateSize, "record-rotate-size", o.RotateSize, "start a new recording file at the next keyframe after this many bytes (0 = never)")
	fs.IntVar(&o.Loops, "loops", o.Loops, "number of event loops (default GOMAXPROCS)")
	fs.Var(&choice{&o.LogLevel, logLevels}, "log-level", "log `level`: "+orList(logLevels)+" (SIGHUP applies a change)")
	fs.Var(&choice{&o.LogFormat, logFormats}, "log-format", "log `format`: "+orList(logFormats))
	fs.UintVar(&o.ChunkSize, "chunk-size", o.ChunkSize, "outbound RTMP chunk size in bytes")
	fs.DurationVar(&o.BatchWindow, "batch-window", o.BatchWindow, "latency a viewer's writes may wait to be merged: at most one write per viewer per window, the first after an idle spell at once; fewer system calls per byte (0 = one write per video frame, lowest latency; a joining viewer always gets its first frames at once)")
	fs.BoolVar(&o.GOPCache, "gop-cache", o.GOPCache, "start new players at the last keyframe (for every app that does not set gop_cache)")
	fs.Var(&choice{&o.Republish, republishes}, "republish", "`policy` for a second publisher of a live stream: "+orList(republishes)+" (for every app that does not set republish)")
	fs.DurationVar(&o.PublisherIdle, "publisher-idle", o.PublisherIdle, "drop a publisher that sends no media this long (0 = 5s; for every app that does not set publisher_idle)")
	fs.DurationVar(&o.HandshakeTime, "handshake-timeout", o.HandshakeTime, "time allowed for handshake and connect")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "close connections that neither publish nor play and send nothing this long")
	fs.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "refuse connections beyond this many; each listener keeps a tenth for itself (0 = the open-file limit less a reserve, -1 = unlimited)")
	fs.IntVar(&o.MaxConnsPerIP, "max-connections-per-ip", o.MaxConnsPerIP, "open connections allowed from one IPv4 address or IPv6 /64 (0 = 256, -1 = unlimited)")
	fs.Float64Var(&o.AcceptRate, "accept-rate-per-ip", o.AcceptRate, "new connections per second allowed from one address after its burst (0 = 50, -1 = unlimited)")
	fs.IntVar(&o.AcceptBurst, "accept-burst-per-ip", o.AcceptBurst, "new connections one address may open at once (0 = 200)")
	fs.StringVar(&o.TrustedNets, "trusted-nets", o.TrustedNets, "comma-separated `CIDRs` exempt from the per-address limits (a local reverse proxy, a load generator); a list in the config file")
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
	fs.Var(&choice{&o.Transport, transports}, "transport", "RTMP `transport`: gnet (event loops) or std (standard library, baseline)")
	fs.IntVar(&o.SendBuffer, "send-buffer", o.SendBuffer, "SO_SNDBUF per connection in bytes: the kernel memory a viewer that stops reading can hold (0 = 256 KiB, -1 = the kernel's autotuning)")
	fs.DurationVar(&o.RepublishGrace, "republish-grace", o.RepublishGrace, "players of a stream whose publisher left wait this long for the next publisher of the name (0 = 5s; negative: end at once)")
	fs.DurationVar(&o.StallTimeout, "stall-timeout", o.StallTimeout, "disconnect a viewer whose queued bytes stay above the low watermark this long (0 = 15s)")
	fs.StringVar(&o.Pprof, "pprof", o.Pprof, "serve net/http/pprof on this loopback `address` (e.g. 127.0.0.1:6060; off when empty)")
	fs.StringVar(&o.RTMPS, "rtmps", o.RTMPS, "RTMPS (TLS) listen `address`; needs -tls-cert and -tls-key")
	fs.StringVar(&o.Admin, "admin", o.Admin, "admin listen `address`: /api/v1/, /metrics, /healthz, /debug/pprof/ (empty disables; beyond loopback needs -admin-token)")
	fs.StringVar(&o.AdminToken, "admin-token", o.AdminToken, "bearer `token` every admin request must carry (Authorization: Bearer TOKEN)")
	fs.StringVar(&o.HTTPS, "https", o.HTTPS, "HTTPS/WSS listen `address` for the player page, HTTP-FLV and WebSocket-FLV over TLS; needs -tls-cert and -tls-key")
	fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "TLS certificate `file` (PEM) for -rtmps and -https (read again on SIGHUP)")
	fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "TLS private key `file` (PEM) for -rtmps and -https (read again on SIGHUP)")
	fs.IntVar(&o.MaxPulls, "max-pulls", o.MaxPulls, "streams pulled from origins at once, by edge apps and cluster lookups (0 = 1024)")
	fs.StringVar(&o.ClusterRedis, "cluster-redis", o.ClusterRedis, "Redis `host:port` of the cluster stream directory (config file: cluster: redis:); empty: no cluster")
	fs.StringVar(&o.ClusterAdvertise, "cluster-advertise", o.ClusterAdvertise, "this node's RTMP `URL` as the other nodes dial it, e.g. rtmp://10.0.0.2:1935 (config file: cluster: advertise:; default rtmp:// and the RTMP address)")
	fs.DurationVar(&o.ClusterTTL, "cluster-ttl", o.ClusterTTL, "how long a node's streams stay claimed after it stops refreshing (config file: cluster: ttl:; 0 = 6s)")
	fs.BoolVar(&o.SchedBatch, "sched-batch", o.SchedBatch, "put every thread under Linux's SCHED_BATCH policy, so that the Go runtime's own threads stop preempting the event loops when they wake (about 10% less CPU per delivered byte); for a server with cores of its own: rtmpd's wake-ups then no longer preempt other processes either")
	fs.BoolVar(&o.SysmonBatch, "sysmon-batch", o.SysmonBatch, "put the Go runtime's monitor thread (sysmon) alone under Linux's SCHED_BATCH policy, so that its polls (every 20 µs after each idle spell) wait for an event loop to block instead of preempting it; no other thread or process is affected (false: leave it; -sched-batch covers it)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long SIGINT/SIGTERM waits for connections to close")
}

// liveKeys are the settings a SIGHUP applies to the running server; a change
// of any other needs a restart. The app defaults reach the apps, which are
// replaced whole; the certificate is read again when -rtmps stays the same.
var liveKeys = map[string]bool{
	"log-level":      true,
	"gop-cache":      true,
	"republish":      true,
	"publisher-idle": true,
	"tls-cert":       true,
	"tls-key":        true,
}

// choice is a setting that takes one of a few words (case-insensitive).
type choice struct {
	p    *string
	want []string
}

func (c *choice) String() string {
	if c == nil || c.p == nil {
		return ""
	}
	return *c.p
}

func (c *choice) Set(v string) error {
	lv := strings.ToLower(v)
	if !slices.Contains(c.want, lv) {
		return fmt.Errorf("want %s", orList(c.want))
	}
	*c.p = lv
	return nil
}

// Get implements flag.Getter.
func (c *choice) Get() any { return *c.p }

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// fileKey is a flag's name as the config file and the environment spell it.
func fileKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// flagName is the flag a config-file key names ("log_level" or "log-level").
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }
