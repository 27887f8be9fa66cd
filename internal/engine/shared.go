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
	// DeferPublisherReads: a publisher's socket is read at the transport's
	// tick instead of at every message (netpoll.ReadDeferrer), and its stream
	// delivers each read at once (fanout.Stream.SetBurstInput); the server
	// sets it when the batch window is the tick: its viewers' writes wait for
	// a window anyway.
	DeferPublisherReads bool
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
	// HandshakeFailures counts RTMP connections closed in their handshake
	// (any goroutine).
	HandshakeFailures atomic.Uint64
	// FirstFrame, when set, observes a play's time to first frame by
	// protocol (rtmp, http, ws). Called on the player's loop; must not block.
	FirstFrame func(protocol string, d time.Duration)
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

	// sessions are the open connections by id, for the admin API (list,
	// kick). An entry is added when a session is initialised and removed when
	// it gives back its connection slot (ReleaseSlot), so the map is bounded
	// by the connection budget (Config.MaxConnections). Guarded by sessMu, a
	// leaf lock held only for a map operation or a copy.
	sessMu   sync.Mutex
	sessions map[uint64]*Session
	// closedIn sums the bytes received by closed connections per app (the
	// app of their last activity; "" before one): with the open ones', the
	// per-app counter of /metrics. Guarded by sessMu; bounded by the
	// registered apps.
	closedIn map[string]uint64
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

func (sh *Shared) track(s *Session) {
	sh.sessMu.Lock()
	if sh.sessions == nil {
		sh.sessions = map[uint64]*Session{}
	}
	sh.sessions[s.ID] = s
	sh.sessMu.Unlock()
}

func (sh *Shared) untrack(s *Session) {
	app := ""
	if a := s.Activity(); a != nil {
		app = a.App
	}
	sh.sessMu.Lock()
	delete(sh.sessions, s.ID)
	if sh.closedIn == nil {
		sh.closedIn = map[string]uint64{}
	}
	sh.closedIn[app] += s.BytesIn.Load()
	sh.sessMu.Unlock()
}

// BytesInByApp returns the bytes received from every connection, open or
// closed, by app (any goroutine). Each value only grows.
func (sh *Shared) BytesInByApp() map[string]uint64 {
	sh.sessMu.Lock()
	defer sh.sessMu.Unlock()
	out := make(map[string]uint64, len(sh.closedIn)+1)
	for app, n := range sh.closedIn {
		out[app] = n
	}
	for _, s := range sh.sessions {
		// A connection that has no app yet is counted when it closes, so
		// that no app's sum ever goes down.
		if a := s.Activity(); a != nil {
			out[a.App] += s.BytesIn.Load()
		}
	}
	return out
}

// Session returns the open session with id, or nil (any goroutine). Only
// its fields documented as safe from any goroutine may be read (ID, Kind,
// Created, Conn's RemoteAddr and Close, BytesIn, Activity).
func (sh *Shared) Session(id uint64) *Session {
	sh.sessMu.Lock()
	defer sh.sessMu.Unlock()
	return sh.sessions[id]
}

// Sessions returns the open sessions (any goroutine), with the same
// restrictions as Session.
func (sh *Shared) Sessions() []*Session {
	sh.sessMu.Lock()
	defer sh.sessMu.Unlock()
	out := make([]*Session, 0, len(sh.sessions))
	for _, s := range sh.sessions {
		out = append(out, s)
	}
	return out
}

// noCopy makes go vet's copylocks check report copies.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
