package engine

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/recorder"
)

// Limits are the per-connection settings and budgets the sessions apply; the
// server fills them from its Config (whose fields document each one).
type Limits struct {
	ChunkSize           uint32 // outbound RTMP chunk size
	WindowAckSize       uint32
	HandshakeTimeout    time.Duration
	IdleTimeout         time.Duration
	MaxMessageSize      uint32
	MaxChunkStreams     int
	MaxInboundChunkSize uint32
	MaxStreamsPerConn   int
	MaxNamesPerConn     int
	MaxControlBacklog   int
	RepublishGrace      time.Duration // negative: a publisher's leave ends its stream at once
	// Fanout is the effective delivery policy (defaults applied): live and
	// recorded plays share its watermarks, stall timeout and hard cap.
	Fanout fanout.Config
}

// Shared is the server-wide state every session reads. The server builds it
// before its transports start; its fields are not reassigned after (the
// objects they point to are safe from any goroutine unless marked). It must
// not be copied.
type Shared struct {
	_      noCopy
	Limits Limits
	Log    *slog.Logger
	Hub    *fanout.Hub
	Reg    *registry.Registry
	Rec    *recorder.Manager
	// Apps are the apps the server starts with: filled before the
	// transports start, read-only after. Sessions look apps up with App,
	// which sees a set that SetApps put in place later.
	Apps  map[string]*App
	Loops []*Loop // indexed by loop index; each loop-only

	// BufPool supplies the chunk decoders' payload buffers; Partial is the
	// server-wide budget of bytes in partly received messages, and
	// PartialTicks the partial-message deadline in loop ticks.
	BufPool      *chunkcodec.BufferPool
	Partial      *chunkcodec.Budget
	PartialTicks int64

	// Scratch pools, one per role so each calibrates to its own sizes:
	// custom-command replies and HTTP response bodies.
	Replies bytebufferpool.Pool
	Bodies  bytebufferpool.Pool

	// VODAdmit is the budget of recording plays; VODs counts their
	// goroutines, which Shutdown waits for.
	VODAdmit *admission.Limiter
	VODs     sync.WaitGroup

	// Release gives back a closed connection's slot in the connection
	// budgets (any goroutine).
	Release func(kind int, remote string)
	// Metrics appends the Prometheus exposition (any goroutine).
	Metrics func(dst []byte) []byte
	// WebLibs are the player page's libraries by URL path (read-only).
	WebLibs map[string][]byte

	// ShuttingDown is set when the server starts to shut down: a publisher
	// that leaves then ends its stream at once instead of letting its
	// players wait for the next one.
	ShuttingDown atomic.Bool

	nextID atomic.Uint64
	// apps, once SetApps stored one, replaces Apps; the map it points to
	// is immutable.
	apps atomic.Pointer[map[string]*App]
}

// App returns the app called name as the server declares it now, or nil.
// A session keeps the *App it looked up for its life, so a change of the
// app set reaches new connections only. Any goroutine.
func (sh *Shared) App(name string) *App {
	if m := sh.apps.Load(); m != nil {
		return (*m)[name]
	}
	return sh.Apps[name]
}

// SetApps replaces the app set that App returns from now on. The caller
// gives up apps: neither the map nor its Apps may change after. Any
// goroutine.
func (sh *Shared) SetApps(apps map[string]*App) { sh.apps.Store(&apps) }

// NextID returns a process-unique connection id (any goroutine).
func (sh *Shared) NextID() uint64 { return sh.nextID.Add(1) }

// noCopy makes go vet's copylocks check report copies.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
