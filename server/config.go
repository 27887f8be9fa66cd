package server

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"runtime"
	"syscall"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/vod"
	"github.com/quaverlive/quaver/netpoll"
	"github.com/quaverlive/quaver/recorder"
)

// Config configures a Server. Zero fields take the documented defaults.
//
// Budgets: every resource a peer can grow has a limit here, per connection,
// per peer address or per server, and each has an attack in the hostile suite
// (hostile/). Negative values disable a limit where the field says so.
type Config struct {
	// RTMPAddr is the RTMP listen address (default ":1935").
	RTMPAddr string
	// HTTPAddr, when set, serves HTTP-FLV, WebSocket-FLV, the player page and
	// what it reads (/api/streams, /api/recordings of apps with VOD) on the
	// same event loops. Metrics and the operator's API are on AdminAddr.
	HTTPAddr string
	// AdminAddr, when set, serves the operator's API on a listener of its own
	// (net/http, goroutines the Server owns): JSON under /api/v1/, Prometheus
	// metrics at /metrics, /healthz and /debug/pprof/. An address that is not
	// loopback (":9090", "0.0.0.0:9090", a public address or host name)
	// needs AdminToken, or Start fails.
	AdminAddr string
	// AdminToken, when set, is required on every admin request as
	// "Authorization: Bearer TOKEN". It is never shown (GET /api/v1/config
	// redacts it).
	AdminToken string
	// Reload, when set, is what POST /api/v1/reload calls (any goroutine; the
	// embedder re-reads its configuration); unset, the endpoint answers 501.
	Reload func() error
	// MetricsPerStream adds per-stream series (viewers, bitrate) to /metrics
	// for at most MetricsMaxStreams streams (default DefaultMetricsMaxStreams),
	// so a server with many streams cannot blow up the scrape.
	MetricsPerStream  bool
	MetricsMaxStreams int
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
	// HTTPSAddr, with TLS set, also serves the HTTP side over TLS: HTTPS-FLV,
	// WSS-FLV and the player page (on the standard-library transport, as
	// RTMPS).
	HTTPSAddr string
	// TLS is the certificate configuration for RTMPSAddr and HTTPSAddr. To
	// pick up renewed certificates without a restart, set its
	// GetCertificate (CertReloader.GetCertificate does).
	TLS *tls.Config
	// Logger receives structured logs (default slog.Default()). The server
	// rate-limits what it logs per message (LogRate, LogBurst), so no peer can
	// flood it.
	Logger *slog.Logger
	// LogRate and LogBurst bound the lines per second of each log message
	// (defaults ratelog.DefaultRate and ratelog.DefaultBurst); held-back lines
	// are counted and summarised.
	LogRate  float64
	LogBurst int

	// ChunkSize is the outbound RTMP chunk size (default 4096).
	ChunkSize uint32
	// WindowAckSize is the acknowledgement window announced to peers (default 2500000).
	WindowAckSize uint32
	// HandshakeTimeout closes connections that have not completed the handshake
	// and connect command (or an HTTP request head) in time (default 10s).
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
	// MaxPartialBytes caps the bytes held in partly received RTMP messages
	// summed over every connection (default DefaultMaxPartialBytes): a
	// connection whose message would take the server past it is closed. Each
	// connection is also capped on its own (chunkcodec.DefaultMaxBufferedBytes).
	MaxPartialBytes int64
	// PartialMessageTimeout closes a connection that started a message and has
	// not completed it this long after (default DefaultPartialMessageTimeout):
	// a peer trickling a large message byte by byte holds its buffer no longer.
	PartialMessageTimeout time.Duration
	// MaxControlBacklog closes a connection that is neither playing nor
	// watching a recording once this many bytes of replies (command results,
	// pongs, HTTP responses) wait for it to read (default
	// DefaultMaxControlBacklog). Players are bounded by Fanout.HardCap.
	MaxControlBacklog int

	// MaxConnections caps open connections server-wide. 0 derives it from the
	// process's file-descriptor limit (leaving DefaultFDReserve for files and
	// listeners); negative means unlimited. Each listener (RTMP, HTTP, RTMPS)
	// keeps a tenth of it that the others cannot take.
	MaxConnections int
	// MaxConnectionsPerIP caps open connections from one peer address (an IPv4
	// address or an IPv6 /64; default admission.DefaultPerPeer; negative:
	// unlimited).
	MaxConnectionsPerIP int
	// AcceptRatePerIP and AcceptBurstPerIP bound how fast one peer address may
	// open connections: a burst, then a rate per second (defaults
	// admission.DefaultRate and admission.DefaultBurst; a negative rate
	// disables it).
	AcceptRatePerIP  float64
	AcceptBurstPerIP int
	// TrustedNets are exempt from the per-address limits (a reverse proxy on
	// the same host, a load generator); the server-wide cap still applies.
	TrustedNets []netip.Prefix

	// MaxIdleStreams caps streams the server knows without a publisher
	// (players waiting for one, or streams lingering after their publisher
	// left) (default DefaultMaxIdleStreams). A play that would create one more
	// is refused with NetStream.Play.StreamNotFound.
	MaxIdleStreams int
	// MaxNamesPerConn caps the streams one connection may bring into the
	// registry over its life by playing or publishing names nobody else had
	// (default DefaultMaxNamesPerConn); past it the connection is closed.
	MaxNamesPerConn int
	// RepublishGrace is how long the players of a stream whose publisher
	// left (cleanly or not) wait for the next publisher of the same name
	// (default DefaultRepublishGrace): an encoder that reconnects continues
	// to the same players, whose timestamps continue and who receive the new
	// publisher's sequence headers before its first frame. Past it they
	// receive the end of stream; negative: at once. A recording ends with its
	// publisher either way.
	RepublishGrace time.Duration
	// StreamLinger keeps a stream with neither publisher nor players known
	// this long after its publisher left (default 10s). A stream that never
	// had a publisher is forgotten as soon as its last player leaves.
	StreamLinger time.Duration

	// MaxVODPlays caps recordings played at once server-wide (default
	// DefaultMaxVODPlays); MaxVODPlaysPerIP per peer address (default
	// DefaultMaxVODPlaysPerIP); VODStartRatePerIP and VODStartBurstPerIP bound
	// how fast one peer address may start them (defaults DefaultVODStartRate,
	// DefaultVODStartBurst): a client that reconnects in a loop gets refused
	// plays, not the recording again and again.
	MaxVODPlays        int
	MaxVODPlaysPerIP   int
	VODStartRatePerIP  float64
	VODStartBurstPerIP int

	// MemoryLimit, when positive, is the Go runtime's soft memory limit
	// (runtime/debug.SetMemoryLimit; a process-wide setting). Independently
	// of it, the server returns freed heap memory to the operating system
	// after a spike (see DefaultIdleHeapRelease).
	MemoryLimit int64

	// SysmonBatch puts the Go runtime's sysmon thread alone under Linux's
	// SCHED_BATCH policy from Start to Shutdown, so that its wake-ups (polls
	// every 20 µs after each idle spell) wait for an event loop to block
	// instead of preempting it: with one loop per core, about 15% less CPU
	// per delivered byte at a batch window of 0 and 1000 viewers of 2.5 Mbps,
	// less at lower bitrates (perf/profiles/2026-11-30-floor-acks-and-sysmon.md).
	// No request waits on sysmon, and every other thread keeps its wake-up
	// preemption. It is a process-wide setting shared by the servers of a
	// process (the last Shutdown puts the threads back), ignored outside
	// Linux and when the process runs under SCHED_BATCH already. Threads
	// sysmon creates inherit the policy; the server puts them back every
	// second, and with them any other thread of the process found under
	// SCHED_BATCH (to run some threads under it, put the whole process under
	// it instead: the setting then does nothing). rtmpd sets it by default
	// (-sysmon-batch).
	SysmonBatch bool

	// SocketSendBuffer sets SO_SNDBUF on accepted connections (default
	// DefaultSocketSendBuffer; negative: the kernel's autotuning, which grows
	// a buffer to several MB on Linux). It is the kernel memory a viewer that
	// stops reading can hold, and it is what the fanout's watermarks and stall
	// timeout wait behind before they see the viewer stalled.
	SocketSendBuffer int
	// TCPKeepAlive enables TCP keep-alive probes with this idle time (default 30s; negative disables).
	TCPKeepAlive time.Duration

	// MaxPulls caps the streams pulled from origins at once (edge apps and
	// cluster lookups; default relay.DefaultMaxPulls): a play that would
	// start one more is refused, so a client playing names at random cannot
	// open upstream connections without end.
	MaxPulls int

	// Cluster, when set, shares the stream directory with other servers
	// through Redis: a publish here claims its name cluster-wide (the
	// republish policy holds across nodes), and a play of a stream another
	// node holds pulls it from that node.
	Cluster *Cluster

	// Fanout tunes delivery: ring size, GOP cache caps, watermarks, batch window.
	// A zero Fanout.BatchWindow takes DefaultBatchWindow (as rtmpd does); a
	// negative one sends at once (lowest latency, most system calls). With
	// the default window, which is the transport's 100 ms tick, an RTMP
	// publisher's socket on the gnet transport is read once per tick (or once
	// 64 KiB wait) instead of at every message, and what each read brings goes
	// to the viewers at once (fanout's Stream.SetBurstInput): the publisher's
	// loop wakes about ten times a second for it instead of about 80 at 30 fps,
	// a viewer still gets about one write per window, and no message waits
	// longer than about a window.
	Fanout fanout.Config
}

// Defaults.
const (
	DefaultRTMPAddr              = ":1935"
	DefaultWindowAckSize         = 2500000
	DefaultHandshakeTimeout      = 10 * time.Second
	DefaultIdleTimeout           = 60 * time.Second
	DefaultMaxStreamsPerConn     = 8
	DefaultStreamLinger          = 10 * time.Second
	DefaultRepublishGrace        = 5 * time.Second
	DefaultMaxPartialBytes       = 256 << 20
	DefaultPartialMessageTimeout = 30 * time.Second
	DefaultMaxControlBacklog     = 1 << 20
	DefaultFDReserve             = 256
	// DefaultSocketSendBuffer holds 250 ms of a 8 Mbps stream, or 100 ms
	// batches of 20 Mbps; the kernel doubles it for its bookkeeping.
	DefaultSocketSendBuffer = 256 << 10
	// DefaultBatchWindow merges each viewer's writes over 100 ms: far fewer
	// system calls per delivered byte (bench/README.md) for at most that much
	// added latency; a joining viewer still gets its first frames at once.
	DefaultBatchWindow      = 100 * time.Millisecond
	DefaultMaxIdleStreams   = 4096
	DefaultMaxNamesPerConn  = 64
	DefaultMaxVODPlays      = 256
	DefaultMaxVODPlaysPerIP = 8
	// DefaultMetricsMaxStreams caps the streams with per-stream series when
	// Config.MetricsPerStream is on.
	DefaultMetricsMaxStreams = 100
	// DefaultMaxAdminConns caps open connections to the admin listener.
	DefaultMaxAdminConns = 64
	DefaultVODStartRate  = 2
	DefaultVODStartBurst = 10
	// DefaultIdleHeapRelease: when more than this much heap is free and not yet
	// returned to the operating system, the server returns it (checked every
	// few seconds), so memory comes back after an attack or a spike.
	DefaultIdleHeapRelease = 32 << 20
	// DefaultVODBufferLength is the player buffer (milliseconds) an RTMP
	// play of a recording assumes until the player sends Set Buffer Length.
	DefaultVODBufferLength = vod.DefaultBufferLength
	// MaxVODBufferLength caps the buffer length a player may ask for: an
	// RTMP play of a recording never runs further ahead of the wall clock
	// than this.
	MaxVODBufferLength = vod.MaxBufferLength
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
	if c.MaxPartialBytes <= 0 {
		c.MaxPartialBytes = DefaultMaxPartialBytes
	}
	if c.PartialMessageTimeout <= 0 {
		c.PartialMessageTimeout = DefaultPartialMessageTimeout
	}
	if c.MaxControlBacklog <= 0 {
		c.MaxControlBacklog = DefaultMaxControlBacklog
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = fdBudget()
	}
	if c.MaxIdleStreams <= 0 {
		c.MaxIdleStreams = DefaultMaxIdleStreams
	}
	if c.MaxNamesPerConn <= 0 {
		c.MaxNamesPerConn = DefaultMaxNamesPerConn
	}
	if c.StreamLinger <= 0 {
		c.StreamLinger = DefaultStreamLinger
	}
	if c.RepublishGrace == 0 {
		c.RepublishGrace = DefaultRepublishGrace
	}
	if c.MaxVODPlays <= 0 {
		c.MaxVODPlays = DefaultMaxVODPlays
	}
	if c.MaxVODPlaysPerIP == 0 {
		c.MaxVODPlaysPerIP = DefaultMaxVODPlaysPerIP
	}
	if c.VODStartRatePerIP == 0 {
		c.VODStartRatePerIP = DefaultVODStartRate
	}
	if c.VODStartBurstPerIP <= 0 {
		c.VODStartBurstPerIP = DefaultVODStartBurst
	}
	switch {
	case c.SocketSendBuffer == 0:
		c.SocketSendBuffer = DefaultSocketSendBuffer
	case c.SocketSendBuffer < 0:
		c.SocketSendBuffer = 0 // netpoll: leave the kernel's default
	}
	if c.MetricsMaxStreams <= 0 {
		c.MetricsMaxStreams = DefaultMetricsMaxStreams
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
	switch {
	case c.Fanout.BatchWindow == 0:
		c.Fanout.BatchWindow = DefaultBatchWindow
	case c.Fanout.BatchWindow < 0:
		c.Fanout.BatchWindow = 0 // fanout: send at once
	}
	c.Fanout.Loops = c.Loops
	if c.tlsListeners() {
		c.Fanout.Loops = 2 * c.Loops // the TLS transport's loops follow the plain ones
	}
	c.Fanout.ChunkSize = c.ChunkSize
}

// fdBudget is the default connection cap: the process's open-file limit less
// DefaultFDReserve (recordings, VOD files, listeners, the log), or unlimited
// when the limit cannot be read.
func fdBudget() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > 1<<30 {
		return -1
	}
	return max(int(r.Cur)-DefaultFDReserve, 64)
}

// Listener kinds, for the admission share of each listener.
const (
	listenerRTMP = iota
	listenerHTTP
	listenerRTMPS
	listenerHTTPS
	numListeners
)

func (c *Config) admission() admission.Config {
	return admission.Config{
		MaxConnections: c.MaxConnections,
		Kinds:          numListeners,
		PerPeer:        c.MaxConnectionsPerIP,
		Rate:           c.AcceptRatePerIP,
		Burst:          c.AcceptBurstPerIP,
		Exempt:         c.TrustedNets,
	}
}

func (c *Config) vodAdmission() admission.Config {
	return admission.Config{
		MaxConnections: c.MaxVODPlays,
		PerPeer:        c.MaxVODPlaysPerIP,
		Rate:           c.VODStartRatePerIP,
		Burst:          c.VODStartBurstPerIP,
		Exempt:         c.TrustedNets,
	}
}

// limits are the settings the sessions apply (engine.Limits), after
// defaults; Fanout is the hub's effective policy.
func (c *Config) limits() engine.Limits {
	return engine.Limits{
		ChunkSize:           c.ChunkSize,
		WindowAckSize:       c.WindowAckSize,
		HandshakeTimeout:    c.HandshakeTimeout,
		IdleTimeout:         c.IdleTimeout,
		MaxMessageSize:      c.MaxMessageSize,
		MaxChunkStreams:     c.MaxChunkStreams,
		MaxInboundChunkSize: c.MaxInboundChunkSize,
		MaxStreamsPerConn:   c.MaxStreamsPerConn,
		MaxNamesPerConn:     c.MaxNamesPerConn,
		MaxControlBacklog:   c.MaxControlBacklog,
		RepublishGrace:      c.RepublishGrace,
		Fanout:              c.Fanout,
		DeferPublisherReads: c.Fanout.BatchWindow == netpoll.DefaultTick,
	}
}

// tlsListeners reports whether a TLS listener (RTMPS, HTTPS) is configured.
func (c *Config) tlsListeners() bool {
	return c.TLS != nil && (c.RTMPSAddr != "" || c.HTTPSAddr != "")
}

// Cluster configures the cluster stream directory (see Config.Cluster).
type Cluster struct {
	// Redis is the directory's host:port.
	Redis string
	// Advertise is this node's RTMP address as the other nodes dial it
	// (rtmp://host:port).
	Advertise string
	// TTL is how long a claim outlives its node (default cluster.DefaultTTL).
	TTL time.Duration
}
