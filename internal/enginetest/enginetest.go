// Package enginetest builds the server-wide state the protocol sessions
// share (engine.Shared) without a server, for tests and benchmarks from
// bytes on fake connections (internal/fakeloop): the app "live" accepting
// everything, the server's default limits, one loop, and a count of the
// connection slots taken and not released.
package enginetest

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/fakeloop"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/recorder"
)

// Server is shared state for sessions on fake connections. Change Limits or
// Apps before the first session opens.
type Server struct {
	*engine.Shared
	Open int // connection slots taken (Attach) and not released
}

// New returns shared state whose recordings go to a temporary directory of
// t, with streams forgotten as soon as their last player leaves and the
// server's default republish grace (5 s).
func New(t testing.TB) *Server {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := fanout.NewHub(fanout.Config{Loops: 1, ChunkSize: fanout.DefaultChunkSize})
	ts := &Server{}
	ts.Shared = &engine.Shared{
		Limits: engine.Limits{
			ChunkSize:           fanout.DefaultChunkSize,
			WindowAckSize:       2500000,
			HandshakeTimeout:    10 * time.Second,
			IdleTimeout:         60 * time.Second,
			MaxMessageSize:      chunkcodec.DefaultMaxMessageSize,
			MaxChunkStreams:     chunkcodec.DefaultMaxChunkStreams,
			MaxInboundChunkSize: chunkcodec.DefaultMaxInboundChunkSize,
			MaxStreamsPerConn:   8,
			MaxNamesPerConn:     64,
			MaxControlBacklog:   1 << 20,
			Fanout:              hub.Config(),
		},
		Log:          log,
		Hub:          hub,
		Reg:          registry.New(hub, registry.Limits{MaxIdle: 4096, Linger: time.Nanosecond, Grace: 5 * time.Second}),
		Rec:          recorder.NewManager(recorder.Config{Dir: t.TempDir(), Logger: log}),
		Apps:         map[string]*engine.App{"live": {Name: "live", GOPCache: true, PublisherIdle: 5 * time.Second, VOD: true}},
		Loops:        []*engine.Loop{engine.NewLoop()},
		BufPool:      chunkcodec.NewBufferPool(),
		Partial:      chunkcodec.NewBudget(256 << 20),
		PartialTicks: 300,
		VODAdmit:     admission.New(admission.Config{MaxConnections: 256, PerPeer: 8, Rate: 2, Burst: 10}),
		WebLibs:      map[string][]byte{},
	}
	ts.Release = func(int, string) { ts.Open-- }
	return ts
}

// Attach binds l as the server's loop and takes a connection slot for a new
// fake connection from remote, which it returns.
func (ts *Server) Attach(l *fakeloop.Loop, remote string) *fakeloop.Conn {
	ts.Hub.AttachLoop(ts.Loops[0].Bind(l))
	ts.Open++
	return &fakeloop.Conn{L: l, Remote: remote}
}

// Flush runs l's queued tasks and ends its batch window, as a loop tick does.
func (ts *Server) Flush(l *fakeloop.Loop) {
	l.Run()
	ts.Hub.FlushLoop(l.Idx)
}
