package server

import (
	"strings"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/engine"
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
}

// engineApp returns the policy the sessions apply for app, with its hooks.
func engineApp(name string, app *App, calls *hookCaller, relays *relay.Manager) *engine.App {
	h := app.Handler
	if h == nil {
		h = BaseHandler{}
	}
	hooks := &appHooks{app: app, h: h, calls: calls, relays: relays}
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
	if pull {
		reg, name := s.Shared.Reg, req.Name
		upstream = func(d *engine.Decision, rename string) {
			n := name
			if rename != "" {
				n = rename
			}
			if reg.Live(a.ea.Name, n) {
				d.Resolve(nil, rename)
				return
			}
			a.relays.Want(a.ea, relay.Pull{Origins: a.app.Pull.Origins, Linger: a.app.Pull.Linger}, n, rename != "", d)
		}
	}
	return a.then(s, err, url, a.event(s, event, req.App, req.Name, protocolOf(req), req.Query), upstream)
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
	a.done(s, req, a.app.Hooks.OnPlayDone, "on_play_done", 0)
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
	ea := s.sh.Apps[in.App]
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
