package server

import (
	"context"
	"strings"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/cluster"
	"github.com/quaverlive/quaver/internal/engine"
	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/relay"
	"github.com/quaverlive/quaver/recorder"
)

// appHooks adapts an App to the sessions' engine.Hooks: its Access rules,
// then its Handler, then its HTTP hooks, in that order, each able to refuse.
// It turns the engine's session into the public handle and the engine's
// requests into the public ones (identical structs, converted in place).
type appHooks struct {
	app    *App
	ea     *engine.App
	h      Handler
	calls  *hookCaller
	relays *relay.Manager
	srv    *Server
}

// dir is the cluster directory, nil outside a cluster.
func (a *appHooks) dir() *cluster.Directory { return a.srv.dir.Load() }

// engineApp returns the policy the sessions apply for app, with its hooks.
func engineApp(name string, app *App, srv *Server) *engine.App {
	h := app.Handler
	if h == nil {
		h = BaseHandler{}
	}
	hooks := &appHooks{app: app, h: h, calls: srv.hooks, relays: srv.relays, srv: srv}
	hooks.ea = &engine.App{
		Name:          name,
		Hooks:         hooks,
		GOPCache:      !app.DisableGOPCache,
		Replace:       app.Republish == RepublishReplace,
		PublisherIdle: app.publisherIdle(),
		Record:        app.Record,
		VOD:           app.VOD,
	}
	return hooks.ea
}

func (a *appHooks) OnConnect(s *engine.Session, req *engine.ConnectRequest) error {
	h := handleOf(s)
	h.last = nil
	err := a.h.OnConnect(h, (*ConnectRequest)(req))
	return a.then(s, err, a.app.Hooks.OnConnect, a.event(s, "on_connect", req.App, "", "rtmp", req.Query), nil)
}

func (a *appHooks) OnPublish(s *engine.Session, req *engine.StreamRequest) error {
	return a.step(s, req, &a.app.Publish, a.h.OnPublish, a.app.Hooks.OnPublish, "on_publish", false)
}

// claim is the last step of a publish in a cluster: the name is claimed
// cluster-wide (off the loop), under the app's republish policy; a node
// that takes the name over later closes this publisher.
func (a *appHooks) claim(s *engine.Session, req *engine.StreamRequest) func(d *engine.Decision, rename string) {
	name, conn := req.Name, s.Conn
	return func(d *engine.Decision, rename string) {
		if rename != "" {
			name = rename
		}
		if !a.calls.start(func() {
			err := a.dir().Claim(context.Background(), a.ea.Name, name, a.app.Republish == RepublishReplace, func() { _ = conn.Close() })
			if err != nil {
				err = &RejectError{Reason: err.Error()}
			}
			d.Resolve(err, rename)
		}) {
			d.Resolve(&RejectError{Reason: "server busy, try again"}, "")
		}
	}
}

func (a *appHooks) OnPlay(s *engine.Session, req *engine.StreamRequest) error {
	return a.step(s, req, &a.app.Play, a.h.OnPlay, a.app.Hooks.OnPlay, "on_play", a.app.Pull != nil)
}

// step checks the access rules, runs the handler, then the HTTP hook, then,
// for a play on an edge (pull), waits for the upstream.
func (a *appHooks) step(s *engine.Session, req *engine.StreamRequest, rules *Access, handler func(*Session, *StreamRequest) error, url, event string, pull bool) error {
	if !rules.open() {
		if why := rules.check(req.App, req.Name, s.Conn.RemoteAddr(), requestQuery(req.Query, s.Connect.Query), time.Now()); why != "" {
			s.Log.Info(event+" refused", "stream", req.Name, "reason", why)
			return &RejectError{Reason: why}
		}
	}
	h := handleOf(s)
	h.last = nil
	err := handler(h, (*StreamRequest)(req))
	var upstream func(d *engine.Decision, rename string)
	switch {
	case event == "on_publish" && a.dir() != nil:
		upstream = a.claim(s, req)
	case event == "on_play" && (pull || a.dir() != nil):
		upstream = a.upstream(s.Shared.Reg, req.Name)
	}
	return a.then(s, err, url, a.event(s, event, req.App, req.Name, protocolOf(req), req.Query), upstream)
}

// upstream is the last step of a play of a stream that is not published
// here: in a cluster, the node holding it (looked up off the loop) is
// pulled from; otherwise an edge pulls from its origins; otherwise the play
// waits for a local publisher as usual.
func (a *appHooks) upstream(reg *registry.Registry, name string) func(d *engine.Decision, rename string) {
	return func(d *engine.Decision, rename string) {
		n := name
		if rename != "" {
			n = rename
		}
		if reg.Live(a.ea.Name, n) || (a.dir() == nil && a.app.Pull == nil) {
			d.Resolve(nil, rename)
			return
		}
		var pull relay.Pull
		if a.app.Pull != nil {
			pull = relay.Pull{Origins: a.app.Pull.Origins, Linger: a.app.Pull.Linger, RoundRobin: a.app.Pull.RoundRobin}
		}
		if a.dir() == nil {
			a.relays.Want(a.ea, pull, n, rename != "", d)
			return
		}
		owner := func(ctx context.Context) []string {
			if o := a.dir().Lookup(ctx, a.ea.Name, n); o != "" && o != a.dir().Advertise() {
				return []string{strings.TrimSuffix(o, "/") + "/" + a.ea.Name}
			}
			return pull.Origins
		}
		if !a.calls.start(func() {
			origins := owner(context.Background())
			if len(origins) == 0 {
				d.Resolve(nil, rename) // nobody holds it: wait for a publisher here
				return
			}
			p := pull
			p.Origins, p.Resolve = origins, owner
			a.relays.Want(a.ea, p, n, rename != "", d)
		}) {
			d.Resolve(&RejectError{Reason: "server busy, try again"}, "")
		}
	}
}

// protocolOf names how a publish or play reaches the server.
func protocolOf(req *engine.StreamRequest) string {
	if req.Type == "http" || req.Type == "ws" {
		return req.Type
	}
	return "rtmp"
}

// then chains what must still accept a step after the handler's answer
// err: the HTTP hook url, then upstream (an edge's pull), each of which
// may refuse. A refusal stands; an acceptance, now or deferred, goes on.
func (a *appHooks) then(s *engine.Session, err error, url string, ev HookEvent, upstream func(d *engine.Decision, rename string)) error {
	if (url == "" && upstream == nil) || (err != nil && !isPending(err)) {
		return err
	}
	timeout := a.app.Hooks.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	// rest runs once the handler accepted (under rename, if set).
	rest := func(d *engine.Decision, rename string) {
		switch {
		case url != "":
			if rename != "" {
				ev.Stream = rename
			}
			a.calls.decideThen(url, timeout, ev, d, rename, upstream)
		case upstream != nil:
			upstream(d, rename)
		default:
			d.Resolve(nil, rename)
		}
	}
	if isPending(err) {
		// The application deferred: once it accepts, the rest decides.
		user := handleOf(s).last
		if user == nil {
			return err
		}
		user.chain(func(_ error, rename string) { rest(user.d, rename) })
		return err
	}
	d := s.Defer(timeout + relay.DefaultFailover) // the steps' own bounds answer first
	rest(d, "")
	return ErrPending
}

// event describes a hook event of session s.
func (a *appHooks) event(s *engine.Session, event, app, stream, proto, query string) HookEvent {
	ev := HookEvent{Event: event, App: app, Stream: stream, ClientID: s.ID, Peer: s.Conn.RemoteAddr(), Protocol: proto}
	if q := requestQuery(query, s.Connect.Query); len(q) > 0 {
		ev.Query = make(map[string]string, len(q))
		for k, v := range q {
			ev.Query[k] = v[0]
		}
	}
	return ev
}

func (a *appHooks) OnUnpublish(s *engine.Session, req *engine.StreamRequest) {
	a.h.OnUnpublish(handleOf(s), (*StreamRequest)(req))
	if a.dir() != nil && !s.Shared.Reg.Live(a.ea.Name, req.Name) { // not replaced here
		app, name := a.ea.Name, req.Name
		a.calls.start(func() { a.dir().Release(app, name) })
	}
	a.done(s, req, a.app.Hooks.OnPublishDone, "on_publish_done", int64(s.BytesIn.Load()))
}

// OnPublished starts the app's push relays: fanout subscribers on the
// publisher's loop.
func (a *appHooks) OnPublished(s *engine.Session, req *engine.StreamRequest, st *fanout.Stream) {
	for _, target := range a.app.Push {
		u := strings.NewReplacer("{stream}", req.Name, "{app}", req.App).Replace(target)
		st.Subscribe(&s.Loop.Fan, a.relays.Push(u), fanout.SubscriberOptions{Format: fanout.FormatFLV, EndOnSuspend: true})
	}
}

func (a *appHooks) OnPlayDone(s *engine.Session, req *engine.StreamRequest) {
	a.done(s, req, a.app.Hooks.OnPlayDone, "on_play_done", int64(s.BytesOut()))
}

// done sends a *_done notification.
func (a *appHooks) done(s *engine.Session, req *engine.StreamRequest, url, event string, bytes int64) {
	if url == "" {
		return
	}
	ev := a.event(s, event, req.App, req.Name, protocolOf(req), req.Query)
	if !req.Started.IsZero() {
		ev.DurationSeconds = time.Since(req.Started).Seconds()
	}
	ev.Bytes = bytes
	a.calls.notify(url, a.app.Hooks.Timeout, ev)
}

func (a *appHooks) OnClose(s *engine.Session) { a.h.OnClose(handleOf(s)) }

func (a *appHooks) Command(s *engine.Session, c *engine.Call) (bool, error) {
	fn := a.app.commands[c.Name]
	if fn == nil {
		return false, nil
	}
	return true, fn(&Call{Session: handleOf(s), Name: c.Name, TransactionID: c.TransactionID, StreamID: c.StreamID, c: c})
}

func (a *appHooks) Message(s *engine.Session, m *chunkcodec.Message) (bool, error) {
	fn := a.app.messages[m.TypeID]
	if fn == nil {
		return false, nil
	}
	return true, fn(handleOf(s), m)
}

// recordDone sends on_record_done for a finished recording file (on the
// recording's writer goroutine).
func (s *Server) recordDone(in recorder.Info) {
	ea := s.sh.App(in.App)
	if ea == nil {
		return
	}
	a, _ := ea.Hooks.(*appHooks)
	if a == nil || a.app.Hooks.OnRecordDone == "" {
		return
	}
	s.hooks.notify(a.app.Hooks.OnRecordDone, a.app.Hooks.Timeout, HookEvent{
		Event: "on_record_done", App: in.App, Stream: in.Stream, Protocol: "rtmp",
		DurationSeconds: in.Duration, Bytes: in.Size, File: in.File,
	})
}
