package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/rtmpmsg"
)

// Pull defaults and bounds.
const (
	// DefaultLinger is how long an upstream stays after its last player left.
	DefaultLinger = 5 * time.Second
	// DefaultFailover bounds how long players wait while the edge tries the
	// origins again after the upstream failed mid-stream.
	DefaultFailover = 15 * time.Second
	// dialTimeout bounds one attempt at one origin (connect and play).
	dialTimeout = 5 * time.Second
	// staticRetry spaces the attempts of a static pull whose origins do
	// not have the stream.
	staticRetry = 2 * time.Second
	// probeTimeout is how long an origin that accepted the play has to send
	// its first message: origins (rtmpd, nginx-rtmp) accept plays of names
	// nobody publishes and wait, so only media tells that it has the
	// stream. With a GOP cache the first messages come at once.
	probeTimeout = 3 * time.Second
	// readQuantum is how often the reading goroutine looks up from the
	// socket to check the linger and the Manager's stop.
	readQuantum = time.Second
	backoffMin  = 250 * time.Millisecond
	backoffMax  = 2 * time.Second
)

// Pull configures pulling an app's streams from origins.
type Pull struct {
	// Origins are the origin app URLs tried in order (rtmp://host:port/app
	// or rtmps://...); the stream name is appended.
	Origins []string
	// Linger closes the upstream this long after its last player left
	// (DefaultLinger when 0).
	Linger time.Duration
	// RoundRobin starts each pull (and each failover) at the next origin in
	// turn instead of the first, spreading the streams over the origins.
	RoundRobin bool
	// Resolve, when set, gives the origins again before every attempt after
	// the first (a cluster directory's current owner of the stream).
	Resolve func(ctx context.Context) []string
}

// Manager owns the pulls of a server.
type Manager struct {
	sh     *engine.Shared
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	rr       atomic.Uint64 // round-robin position over origins
	maxPulls int           // the cap on pulls at once (immutable)

	mu     sync.Mutex
	pulls  map[string]*puller // by registry key
	pushes map[*Pusher]struct{}
}

// DefaultMaxPulls caps the streams an edge pulls at once: every play of a
// name that is not local starts one (a goroutine and an upstream
// connection) until its origins answer, so a client playing random names
// could otherwise open upstream connections without end.
const DefaultMaxPulls = 1024

// ErrTooManyPulls refuses a play that would start one pull past the cap.
var ErrTooManyPulls = errors.New("relay: too many streams being pulled; try again later")

// NewManager returns a manager for the server state sh that pulls at most
// maxPulls streams at once (DefaultMaxPulls when 0).
func NewManager(sh *engine.Shared, maxPulls int) *Manager {
	if maxPulls <= 0 {
		maxPulls = DefaultMaxPulls
	}
	m := &Manager{sh: sh, log: sh.Log, maxPulls: maxPulls, pulls: map[string]*puller{}, pushes: map[*Pusher]struct{}{}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m
}

// Stop ends every pull and waits for their goroutines. Any goroutine.
func (m *Manager) Stop() {
	m.cancel()
	m.wg.Wait()
}

// Active returns how many streams are being pulled. Any goroutine.
func (m *Manager) Active() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.pulls)
}

// Want asks for app/name from the origins for a player whose play waits on
// d: d is accepted (under name when rename is set) once the upstream plays,
// at once when it already does, and refused with engine.ErrStreamNotFound
// when no origin has the stream. Every player of a stream shares one
// upstream. Any goroutine; never blocks.
func (m *Manager) Want(app *engine.App, cfg Pull, name string, rename bool, d *engine.Decision) {
	key := registry.Key(app.Name, name)
	m.mu.Lock()
	if m.ctx.Err() != nil {
		m.mu.Unlock()
		d.Resolve(engine.ErrShutdown, "")
		return
	}
	p := m.pulls[key]
	if p == nil && len(m.pulls) >= m.maxPulls {
		m.mu.Unlock()
		m.log.Warn("pull refused: too many streams being pulled", "stream", key, "max", m.maxPulls)
		d.Resolve(ErrTooManyPulls, "")
		return
	}
	if p == nil {
		p = &puller{m: m, app: app, cfg: cfg, name: name, key: key, log: m.log.With("pull", key)}
		p.st.info = Info{Kind: "pull", Stream: key, State: "connecting", Since: time.Now()}
		if p.cfg.Linger <= 0 {
			p.cfg.Linger = DefaultLinger
		}
		m.pulls[key] = p
		m.wg.Add(1)
		go p.run()
	}
	m.mu.Unlock()
	w := waiter{d: d}
	if rename {
		w.rename = name
	}
	p.want(w)
}

// Static keeps app/name pulled from cfg's origins whether or not anyone
// watches (re-hosting a remote stream), retrying while they do not have
// it, until Stop. Any goroutine.
func (m *Manager) Static(app *engine.App, cfg Pull, name string) {
	key := registry.Key(app.Name, name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil || m.pulls[key] != nil {
		return
	}
	p := &puller{m: m, app: app, cfg: cfg, name: name, key: key, static: true, log: m.log.With("pull", key, "static", true)}
	p.st.info = Info{Kind: "pull", Stream: key, State: "connecting", Since: time.Now()}
	m.pulls[key] = p
	m.wg.Add(1)
	go p.run()
}

// waiter is a play waiting for the upstream.
type waiter struct {
	d      *engine.Decision
	rename string
}

// puller is one stream's upstream.
type puller struct {
	m    *Manager
	app  *engine.App
	cfg  Pull
	name string
	key  string
	log  *slog.Logger
	st   status // for operators
	// static pulls are kept whether or not anyone watches (no linger).
	static bool

	mu      sync.Mutex
	playing bool     // the upstream plays; new players need not wait
	waiting []waiter // players waiting for it
}

func (p *puller) want(w waiter) {
	p.mu.Lock()
	if p.playing {
		p.mu.Unlock()
		w.d.Resolve(nil, w.rename)
		return
	}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
}

// answer resolves the waiting players.
func (p *puller) answer(refused error) {
	p.mu.Lock()
	w := p.waiting
	p.waiting = nil
	p.playing = refused == nil
	p.mu.Unlock()
	for _, x := range w {
		x.d.Resolve(refused, x.rename)
	}
}

// run is the pull's goroutine: it plays the stream from an origin and
// republishes it locally until nobody has watched for the linger, the
// origin ends it, or no origin answers within the failover bound.
func (p *puller) run() {
	defer p.m.wg.Done()
	defer func() {
		p.answer(engine.ErrStreamNotFound) // players still waiting get a prompt answer
		p.m.mu.Lock()
		if p.m.pulls[p.key] == p {
			delete(p.m.pulls, p.key)
		}
		p.m.mu.Unlock()
	}()
	ctx := p.m.ctx
	everUp := false
	var failedAt time.Time
	backoff := backoffMin
	for ctx.Err() == nil {
		if everUp && p.cfg.Resolve != nil {
			p.cfg.Origins = p.cfg.Resolve(ctx)
		}
		c, origin, f, err := p.dial(ctx)
		if err != nil {
			p.st.set("retrying", "", err)
			if p.static {
				// Kept relayed whatever happens: try again, at most every
				// staticRetry.
				if !sleep(ctx, staticRetry) {
					return
				}
				continue
			}
			if !everUp {
				p.log.Info("no origin has the stream", "err", err)
				return
			}
			if time.Since(failedAt) > DefaultFailover {
				p.log.Warn("origins unavailable; giving up", "err", err)
				return
			}
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, backoffMax)
			continue
		}
		backoff = backoffMin
		p.st.set("playing", origin, nil)
		if everUp {
			p.log.Info("upstream resumed", "origin", origin, "after", time.Since(failedAt).Round(time.Millisecond))
		} else {
			p.log.Info("upstream playing", "origin", origin)
		}
		everUp = true
		end := p.relay(ctx, c, f)
		_ = c.Close()
		switch {
		case end == endStop:
			return
		case p.static:
			// The origin ended it or it failed: play it again.
		case end == endLinger, end == endOrigin:
			return
		}
		failedAt = time.Now()
		p.st.set("retrying", "", errUpstreamLost)
		p.log.Warn("upstream lost; trying the origins", "origin", origin)
	}
}

// first is an upstream's first message, copied.
type first struct {
	typeID  uint8
	ts      uint32
	payload []byte
}

// dial plays the stream from the first origin that sends its media.
func (p *puller) dial(ctx context.Context) (*client.Conn, string, *first, error) {
	var errs []error
	origins := p.cfg.Origins
	if p.cfg.RoundRobin && len(origins) > 1 {
		// Start at the next origin each time, spreading the edge's streams.
		k := int(p.m.rr.Add(1) % uint64(len(origins)))
		origins = append(append(make([]string, 0, len(origins)), origins[k:]...), origins[:k]...)
	}
	for _, origin := range origins {
		u := strings.TrimSuffix(origin, "/") + "/" + p.name
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		c, err := client.Dial(dctx, u, client.Config{Timeout: dialTimeout})
		if err == nil {
			err = c.Play(dctx, p.name)
		}
		cancel()
		var f *first
		if err == nil {
			f, err = probe(c)
		}
		if err == nil {
			return c, origin, f, nil
		}
		if c != nil {
			_ = c.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", origin, err))
	}
	if len(errs) == 0 {
		return nil, "", nil, errNoOrigin
	}
	return nil, "", nil, errors.Join(errs...)
}

// probe waits for the upstream's first media or data message.
func probe(c *client.Conn) (*first, error) {
	_ = c.SetReadDeadline(time.Now().Add(probeTimeout))
	for {
		m, err := c.ReadMessage()
		if errors.Is(err, client.ErrTimeout) {
			return nil, errNothingSent
		}
		if err != nil {
			return nil, err
		}
		if isMedia(m) {
			return &first{typeID: m.TypeID, ts: m.Timestamp, payload: append([]byte(nil), m.Payload...)}, nil
		}
	}
}

// onMetaData is the AMF0 string that starts a metadata message.
var onMetaData = []byte("\x02\x00\x0aonMetaData")

// isMedia reports whether an upstream message is the stream's: audio,
// video or its metadata (not the play's |RtmpSampleAccess and the like).
func isMedia(m *chunkcodec.Message) bool {
	switch m.TypeID {
	case chunkcodec.TypeAudio, chunkcodec.TypeVideo:
		return true
	case chunkcodec.TypeDataAMF0:
		return bytes.HasPrefix(flvmux.StripSetDataFrame(m.Payload), onMetaData)
	}
	return false
}

var errUpstreamLost = errors.New("relay: upstream lost")

var errNoOrigin = errors.New("relay: no origin holds the stream")

var errNothingSent = errors.New("relay: the origin sent no media (it does not have the stream)")

// Why a relay ended.
type relayEnd uint8

const (
	endLost   relayEnd = iota // the upstream failed: try again
	endLinger                 // nobody watched for the linger
	endOrigin                 // the origin ended the stream
	endStop                   // the server is stopping
)

// relay republishes what c plays until it ends.
func (p *puller) relay(ctx context.Context, c *client.Conn, f *first) relayEnd {
	reg := p.m.sh.Reg
	st, _, err := reg.AcquirePublish(p, p.app.Name, p.name, p.app.StreamOptions(), false, nil)
	if err != nil {
		// A local publisher took the name: players play it.
		p.answer(nil)
		return endOrigin
	}
	epoch := st.Fanout.BeginPublish()
	if st.Fanout.Subscribers() > 0 {
		st.Fanout.PublishControl(rtmpmsg.AppendPublishNotify(nil, p.m.sh.Limits.ChunkSize, p.name))
	}
	p.publish(st, epoch, f.typeID, f.ts, f.payload)
	p.answer(nil)
	end := p.copy(ctx, c, st, epoch)
	reg.ReleasePublish(p, st)
	eof := rtmpmsg.AppendUnpublishNotify(nil, p.m.sh.Limits.ChunkSize, p.name)
	if end == endLost {
		// Players wait while the origins are tried again (the grace).
		st.Fanout.SuspendPublishAs(epoch, eof)
	} else {
		st.Fanout.EndPublishAs(epoch, eof)
	}
	p.mu.Lock()
	p.playing = false
	p.mu.Unlock()
	return end
}

// copy moves media from c into the stream.
func (p *puller) copy(ctx context.Context, c *client.Conn, st *registry.Stream, epoch uint64) relayEnd {
	idleSince, rttAt := time.Time{}, time.Time{}
	for {
		if ctx.Err() != nil {
			return endStop
		}
		if !p.static && st.Fanout.Subscribers() == 0 { // a static pull has no linger
			if idleSince.IsZero() {
				idleSince = time.Now()
			} else if time.Since(idleSince) > p.cfg.Linger {
				p.log.Info("upstream closed: no players", "linger", p.cfg.Linger)
				return endLinger
			}
		} else {
			idleSince = time.Time{}
		}
		if now := time.Now(); now.Sub(rttAt) >= readQuantum {
			rttAt = now
			p.st.setRTT(rtt(c.RawConn()))
		}
		_ = c.SetReadDeadline(time.Now().Add(readQuantum))
		m, err := c.ReadMessage()
		if errors.Is(err, client.ErrTimeout) {
			continue
		}
		if err != nil {
			return endLost
		}
		switch {
		case isMedia(m):
			if !p.publish(st, epoch, m.TypeID, m.Timestamp, m.Payload) {
				return endOrigin // replaced
			}
		case m.TypeID == chunkcodec.TypeUserControl:
			if uc, err := chunkcodec.ParseUserControl(m.Payload); err == nil && uc.Event == chunkcodec.EventStreamEOF {
				p.log.Info("origin ended the stream")
				return endOrigin
			}
		}
	}
}

// publish puts one upstream message into the stream; false when the pull
// is no longer the stream's publisher.
func (p *puller) publish(st *registry.Stream, epoch uint64, typeID uint8, ts uint32, payload []byte) bool {
	if typeID == chunkcodec.TypeDataAMF0 {
		payload = flvmux.StripSetDataFrame(payload)
	}
	_, err := st.Fanout.PublishAs(epoch, typeID, ts, payload)
	return err == nil
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
