package server

import (
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/engine"
)

// appHooks adapts an App and its Handler to the sessions' engine.Hooks: it
// turns the engine's session into the public handle and the engine's
// requests into the public ones (identical structs, converted in place).
type appHooks struct {
	app *App
	h   Handler
}

// engineApp returns the policy the sessions apply for app, with its hooks.
func engineApp(name string, app *App) *engine.App {
	h := app.Handler
	if h == nil {
		h = BaseHandler{}
	}
	return &engine.App{
		Name:          name,
		Hooks:         &appHooks{app: app, h: h},
		GOPCache:      !app.DisableGOPCache,
		Replace:       app.Republish == RepublishReplace,
		PublisherIdle: app.publisherIdle(),
		Record:        app.Record,
	}
}

func (a *appHooks) OnConnect(s *engine.Session, req *engine.ConnectRequest) error {
	return a.h.OnConnect(handleOf(s), (*ConnectRequest)(req))
}

func (a *appHooks) OnPublish(s *engine.Session, req *engine.StreamRequest) error {
	return a.h.OnPublish(handleOf(s), (*StreamRequest)(req))
}

func (a *appHooks) OnPlay(s *engine.Session, req *engine.StreamRequest) error {
	return a.h.OnPlay(handleOf(s), (*StreamRequest)(req))
}

func (a *appHooks) OnUnpublish(s *engine.Session, req *engine.StreamRequest) {
	a.h.OnUnpublish(handleOf(s), (*StreamRequest)(req))
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
