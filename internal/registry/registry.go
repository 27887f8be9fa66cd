// Package registry is the stream registry: which streams exist, who publishes
// each, how many play it, and which recording it feeds. It applies the
// republish policy and the registry's budgets, and its janitor forgets
// streams nobody uses.
//
// Budgets: a stream enters the registry when it is published, or when a
// player asks for a name that is not live (the player waits for a
// publisher). Waiting streams are capped per registry (Limits.MaxIdle); a
// connection may bring at most NameBudget's cap of names in over its life; a
// stream that never had a publisher is forgotten as soon as its last player
// leaves. The fanout stream allocates its ring only when a publisher starts,
// so a waiting stream costs a few hundred bytes.
//
// Republish: the players of a stream whose publisher left wait for the next
// publisher of the name for Limits.Grace, so an encoder that reconnects
// continues to the same audience; Sweep then ends their wait. A stream with
// neither publisher nor players lingers (Limits.Linger) and is then
// forgotten, its ring closed outside the lock.
//
// Concurrency: every Registry method is safe from any goroutine, event loops
// included: none blocks, touches the disk or calls out while holding the
// registry's lock. Lock order: Registry.mu, then a fanout.Stream's own lock.
package registry

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/recorder"
)

// Sentinel errors.
var (
	ErrStreamBusy   = errors.New("registry: stream is already being published")
	ErrTooManyIdle  = errors.New("registry: too many streams waiting for a publisher")
	ErrTooManyNames = errors.New("registry: connection brought too many stream names into the registry")
)

// Limits are a registry's budgets.
type Limits struct {
	// MaxIdle caps streams without a publisher (players waiting for one, or
	// streams lingering after their publisher left).
	MaxIdle int
	// Linger keeps a stream whose publisher left (and that has no players)
	// this long, so a quick republish continues where it stopped.
	Linger time.Duration
	// Grace is how long the players of a stream whose publisher left wait
	// for the next publisher of the name (the session suspends the stream's
	// fanout, fanout.Stream.SuspendPublishAs); past it, Sweep ends their
	// wait (fanout.Stream.EndWaiting).
	Grace time.Duration
}

// Publisher is whoever publishes a stream (a session). The registry only
// stores and compares it.
type Publisher any

// Stream is a stream known to the registry.
type Stream struct {
	Key       string         // "app/name"; immutable
	App, Name string         // immutable
	Fanout    *fanout.Stream // immutable

	// Guarded by Registry.mu.
	publisher Publisher
	players   int
	published bool // had a publisher: lingers after it leaves
	idleSince time.Time
	leftAt    time.Time // when the last publisher left
	waiting   bool      // its players wait for the next publisher (Grace)
	recording *recorder.Recording
}

// NameBudget counts the names one connection brought into the registry. It
// belongs to the connection (loop-only); the zero value has no cap.
type NameBudget struct {
	Max  int // cap; 0: none
	used int
}

func (b *NameBudget) charge() error {
	if b == nil {
		return nil
	}
	b.used++
	if b.Max > 0 && b.used > b.Max {
		return fmt.Errorf("%w (%d)", ErrTooManyNames, b.Max)
	}
	return nil
}

// Registry is the set of streams of a server.
type Registry struct {
	hub    *fanout.Hub
	limits Limits

	mu         sync.Mutex
	streams    map[string]*Stream // guarded by mu
	publishing int                // guarded by mu: streams with a publisher
}

// New returns an empty registry whose streams live on hub.
func New(hub *fanout.Hub, limits Limits) *Registry {
	return &Registry{hub: hub, limits: limits, streams: map[string]*Stream{}}
}

// Key returns the registry key of app/name.
func Key(app, name string) string { return app + "/" + name }

// lookupLocked returns app/name's stream, creating it (created true) when
// missing. r.mu must be held.
func (r *Registry) lookupLocked(app, name string, opts fanout.StreamOptions) (st *Stream, created bool) {
	k := Key(app, name)
	if st = r.streams[k]; st != nil {
		return st, false
	}
	st = &Stream{Key: k, App: app, Name: name, Fanout: r.hub.NewStream(opts)}
	r.streams[k] = st
	return st, true
}

// AcquirePlay registers a player of app/name, creating a stream that waits
// for a publisher when the name is unknown: that costs names one name, and
// fails with ErrTooManyIdle when MaxIdle waiting streams exist already.
func (r *Registry) AcquirePlay(app, name string, opts fanout.StreamOptions, names *NameBudget) (*Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams[Key(app, name)] == nil {
		if r.limits.MaxIdle > 0 && len(r.streams)-r.publishing >= r.limits.MaxIdle {
			return nil, ErrTooManyIdle
		}
		if err := names.charge(); err != nil {
			return nil, err
		}
	}
	st, _ := r.lookupLocked(app, name, opts)
	st.players++
	return st, nil
}

// AcquireLive registers a player of app/name if that stream is being
// published; otherwise it returns nil and registers nothing.
func (r *Registry) AcquireLive(app, name string) *Stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[Key(app, name)]
	if st == nil || st.publisher == nil {
		return nil
	}
	st.players++
	return st
}

// ReleasePlay unregisters a player. A stream that never had a publisher goes
// with its last player.
func (r *Registry) ReleasePlay(st *Stream) {
	r.mu.Lock()
	st.players--
	gone := false
	if st.players == 0 && st.publisher == nil {
		st.idleSince = time.Now()
		if !st.published && r.streams[st.Key] == st {
			delete(r.streams, st.Key)
			gone = true
		}
	}
	r.mu.Unlock()
	if gone {
		st.Fanout.Close()
	}
}

// Live reports whether app/name has a publisher.
func (r *Registry) Live(app, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[Key(app, name)]
	return st != nil && st.publisher != nil
}

// AcquirePublish makes pub the publisher of app/name. A stream published by
// someone else is refused with ErrStreamBusy unless replace is set; then the
// previous publisher is returned (the caller closes it). A name new to the
// registry costs names one name.
func (r *Registry) AcquirePublish(pub Publisher, app, name string, opts fanout.StreamOptions, replace bool, names *NameBudget) (st *Stream, replaced Publisher, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, created := r.lookupLocked(app, name, opts)
	if created {
		if err := names.charge(); err != nil {
			delete(r.streams, st.Key) // nothing references it yet; it holds no ring
			return nil, nil, err
		}
	}
	old := st.publisher
	if old != nil && old != pub && !replace {
		return nil, nil, ErrStreamBusy
	}
	if old == nil {
		r.publishing++
	}
	st.publisher = pub
	st.published = true
	st.waiting = false
	if old == pub {
		old = nil
	}
	return st, old, nil
}

// ReleasePublish detaches pub if it still publishes st, and reports whether
// it did (false: it was replaced). The recording the stream fed, if any, is
// returned so the caller can let it finish with the stream's end.
func (r *Registry) ReleasePublish(pub Publisher, st *Stream) (released bool, rec *recorder.Recording) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.publisher != pub {
		return false, nil
	}
	st.publisher = nil
	r.publishing--
	now := time.Now()
	st.leftAt, st.waiting = now, true
	if st.players == 0 {
		st.idleSince = now
	}
	rec, st.recording = st.recording, nil
	return true, rec
}

// Publisher returns app/name's stream and its publisher (nil when none).
func (r *Registry) Publisher(app, name string) (*Stream, Publisher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[Key(app, name)]
	if st == nil {
		return nil, nil
	}
	return st, st.publisher
}

// IsPublisher reports whether pub publishes st now.
func (r *Registry) IsPublisher(st *Stream, pub Publisher) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return st.publisher == pub && pub != nil
}

// Recording returns the recording st feeds, or nil.
func (r *Registry) Recording(st *Stream) *recorder.Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return st.recording
}

// SetRecording records that st feeds rec, unless it already feeds one
// (false).
func (r *Registry) SetRecording(st *Stream, rec *recorder.Recording) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.recording != nil {
		return false
	}
	st.recording = rec
	return true
}

// TakeRecording detaches and returns the recording app/name feeds, or nil.
func (r *Registry) TakeRecording(app, name string) *recorder.Recording {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.streams[Key(app, name)]
	if st == nil {
		return nil
	}
	rec := st.recording
	st.recording = nil
	return rec
}

// Sweep ends the wait of players whose publisher left more than the grace
// ago, and forgets streams that have had neither publisher nor players for
// the linger time; both happen on the fanout streams after the lock is
// released.
func (r *Registry) Sweep(now time.Time) {
	var doomed, ended []*fanout.Stream
	r.mu.Lock()
	for k, st := range r.streams {
		if st.publisher == nil && st.waiting && now.Sub(st.leftAt) > r.limits.Grace {
			st.waiting = false
			ended = append(ended, st.Fanout)
		}
		if st.publisher == nil && st.players == 0 && now.Sub(st.idleSince) > r.limits.Linger {
			doomed = append(doomed, st.Fanout)
			delete(r.streams, k)
		}
	}
	r.mu.Unlock()
	for _, f := range ended {
		f.EndWaiting() // a publisher that began since keeps its players
	}
	for _, f := range doomed {
		f.Close()
	}
}

// Info describes a stream.
type Info struct {
	App         string `json:"app"`
	Name        string `json:"name"`
	Publishing  bool   `json:"publishing"`
	Subscribers int    `json:"subscribers"`
}

// List describes every stream.
func (r *Registry) List() []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Info, 0, len(r.streams))
	for _, st := range r.streams {
		out = append(out, Info{App: st.App, Name: st.Name, Publishing: st.publisher != nil, Subscribers: st.Fanout.Subscribers()})
	}
	return out
}

// Counts returns the number of streams and of streams with a publisher.
func (r *Registry) Counts() (streams, publishing int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.streams), r.publishing
}

// Publishers returns every current publisher.
func (r *Registry) Publishers() []Publisher {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Publisher
	for _, st := range r.streams {
		if st.publisher != nil {
			out = append(out, st.publisher)
		}
	}
	return out
}

// Close stops every recording and forgets every stream, closing its ring.
// Nothing may use the registry's streams afterwards (Shutdown, after the
// transports stopped).
func (r *Registry) Close() {
	r.mu.Lock()
	streams := r.streams
	r.streams = map[string]*Stream{}
	r.publishing = 0
	r.mu.Unlock()
	for _, st := range streams {
		if st.recording != nil {
			st.recording.Stop()
		}
		st.Fanout.Close()
	}
}
