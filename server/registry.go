package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/recorder"
)

// The stream registry: which streams exist, who publishes them, who plays them.
//
// Budgets: a stream enters the registry when it is published, or when a
// player asks for a name that is not live (the player waits for a publisher).
// Such waiting entries are capped server-wide (Config.MaxIdleStreams), each
// connection may bring at most Config.MaxNamesPerConn names into the registry
// over its life, and an entry that never had a publisher is forgotten as soon
// as its last player leaves. The fanout stream allocates its ring only when a
// publisher starts, so a waiting entry costs a few hundred bytes. Streams whose
// publisher left linger (Config.StreamLinger) so a reconnecting encoder
// continues to the same players; the janitor forgets them after that, closing
// their rings outside the registry lock.
//
// Lock order: Server.mu, then a fanout.Stream's internal lock. Nothing that
// blocks or touches the disk runs under Server.mu.

// streamEntry is a stream known to the registry. Fields are guarded by
// Server.mu except where marked.
type streamEntry struct {
	key       string
	app       *App
	stream    *fanout.Stream // immutable
	publisher *Session
	pubReq    StreamRequest
	rec       *recorder.Recording // current recording of this stream, if any
	players   int
	published bool // had a publisher at some point: lingers after it leaves
	idleSince time.Time
}

func streamKey(app, name string) string { return app + "/" + name }

// entryLocked returns app/name's entry, creating it when missing (created is
// then true). Server.mu must be held.
func (s *Server) entryLocked(app *App, appName, name string) (e *streamEntry, created bool) {
	k := streamKey(appName, name)
	if e = s.streams[k]; e != nil {
		return e, false
	}
	e = &streamEntry{key: k, app: app, stream: s.hub.NewStream(fanout.StreamOptions{GOPCache: !app.DisableGOPCache})}
	s.streams[k] = e
	return e, true
}

// countName charges sess for a name it brought into the registry.
func (sess *Session) countName() error {
	sess.names++
	if sess.names > sess.srv.cfg.MaxNamesPerConn {
		return fmt.Errorf("%w (%d)", ErrTooManyNames, sess.srv.cfg.MaxNamesPerConn)
	}
	return nil
}

// acquirePlay registers a player of app/name and returns the stream's entry,
// creating one that waits for a publisher when the name is unknown. It fails
// with ErrTooManyIdle when the server already holds MaxIdleStreams waiting
// entries, and with ErrTooManyNames when sess has brought too many names in.
func (s *Server) acquirePlay(sess *Session, app *App, appName, name string) (*streamEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := streamKey(appName, name)
	if s.streams[k] == nil {
		if len(s.streams)-s.pubCount >= s.cfg.MaxIdleStreams {
			return nil, ErrTooManyIdle
		}
		if err := sess.countName(); err != nil {
			return nil, err
		}
	}
	e, _ := s.entryLocked(app, appName, name)
	e.players++
	return e, nil
}

// acquireLive registers a player of app/name if that stream is being published.
func (s *Server) acquireLive(app, name string) *streamEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.streams[streamKey(app, name)]
	if e == nil || e.publisher == nil {
		return nil
	}
	e.players++
	return e
}

// releasePlay unregisters a player. An entry that never had a publisher goes
// at once with its last player.
func (s *Server) releasePlay(e *streamEntry) {
	s.mu.Lock()
	e.players--
	gone := false
	if e.players == 0 && e.publisher == nil {
		e.idleSince = time.Now()
		if !e.published && s.streams[e.key] == e {
			delete(s.streams, e.key)
			gone = true
		}
	}
	s.mu.Unlock()
	if gone {
		e.stream.Close()
	}
}

// liveNow reports whether app/name has a publisher. Safe from any goroutine.
func (s *Server) liveNow(app, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.streams[streamKey(app, name)]
	return e != nil && e.publisher != nil
}

// acquirePublish makes sess the publisher of app/name under the app's republish
// policy. It returns the previous publisher when it was replaced.
func (s *Server) acquirePublish(sess *Session, app *App, req StreamRequest) (*streamEntry, *Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, created := s.entryLocked(app, req.App, req.Name)
	if created {
		if err := sess.countName(); err != nil {
			delete(s.streams, e.key) // nothing references it yet; it holds no ring
			return nil, nil, err
		}
	}
	old := e.publisher
	if old != nil && old != sess {
		if app.Republish != RepublishReplace {
			return nil, nil, ErrStreamBusy
		}
	}
	if old == nil {
		s.pubCount++
	}
	e.publisher = sess
	e.pubReq = req
	e.published = true
	return e, old, nil
}

// releasePublish detaches sess if it still publishes e.
func (s *Server) releasePublish(sess *Session, e *streamEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.publisher != sess {
		return false
	}
	e.publisher = nil
	s.pubCount--
	if e.players == 0 {
		e.idleSince = time.Now()
	}
	return true
}

// sweepStreams forgets streams that have had neither publisher nor players for
// the linger time. The rings are closed after the lock is released.
func (s *Server) sweepStreams(now time.Time) {
	var doomed []*fanout.Stream
	s.mu.Lock()
	for k, e := range s.streams {
		if e.publisher == nil && e.players == 0 && now.Sub(e.idleSince) > s.cfg.StreamLinger {
			doomed = append(doomed, e.stream)
			delete(s.streams, k)
		}
	}
	s.mu.Unlock()
	for _, st := range doomed {
		st.Close()
	}
}

// StreamInfo describes a live stream.
type StreamInfo struct {
	App         string `json:"app"`
	Name        string `json:"name"`
	Publishing  bool   `json:"publishing"`
	Subscribers int    `json:"subscribers"`
}

// Streams lists known streams. Safe from any goroutine.
func (s *Server) Streams() []StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StreamInfo, 0, len(s.streams))
	for k, e := range s.streams {
		app, name, _ := strings.Cut(k, "/")
		out = append(out, StreamInfo{App: app, Name: name, Publishing: e.publisher != nil, Subscribers: e.stream.Subscribers()})
	}
	return out
}

// StartRecording starts recording a stream that is being published. It is
// asynchronous and safe from any goroutine, including a handler or custom
// command on the publisher's own event loop: the recording attaches on that
// loop shortly after the call returns (a failure to create the file is logged
// and ends only the recording). It fails at once when the stream is not
// being published or is already being recorded.
func (s *Server) StartRecording(app, name string) error {
	s.mu.Lock()
	e := s.streams[streamKey(app, name)]
	var pub *Session
	if e != nil {
		pub = e.publisher
	}
	busy := e != nil && e.rec != nil
	s.mu.Unlock()
	if pub == nil {
		return fmt.Errorf("server: %s/%s is not being published", app, name)
	}
	if busy {
		return fmt.Errorf("server: %s/%s is already being recorded", app, name)
	}
	return pub.conn.Loop().Execute(taskFunc(func() {
		if pub.closed {
			return
		}
		s.mu.Lock()
		still := e.publisher == pub
		s.mu.Unlock()
		if still {
			_ = pub.startRecording(e) // errors are logged there
		}
	}))
}

// StopRecording stops recording a stream; the file is finished in the
// background. Safe from any goroutine.
func (s *Server) StopRecording(app, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.streams[streamKey(app, name)]
	if e == nil || e.rec == nil {
		return fmt.Errorf("server: %s/%s is not being recorded", app, name)
	}
	e.rec.Stop()
	e.rec = nil
	return nil
}
