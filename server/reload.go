package server

import (
	"fmt"
	"strings"

	"github.com/quaverlive/quaver/internal/engine"
)

// SetApps replaces every app of the server with apps (a name that apps
// lacks is no longer served).
//
// Before Start it replaces what New and Handle registered. After Start it
// takes effect at once for new connections (an RTMP connect, an HTTP-FLV
// or WebSocket-FLV play): the new set is swapped in whole, so a connection
// sees either the old apps or the new ones. Connections already open keep
// the app they joined, with its settings and handler, until they close;
// streams keep the GOP cache setting they were created with.
//
// The server keeps apps: neither the map nor the Apps in it may change
// after the call (their custom commands and message types included). An
// app name must be non-empty and contain neither '/' nor '?', and no app
// may be nil; otherwise nothing changes and SetApps returns an error. Any
// goroutine except a loop; not concurrently with Start, Handle or another
// SetApps.
func (s *Server) SetApps(apps map[string]*App) error {
	m := make(map[string]*App, len(apps))
	for name, app := range apps {
		if name == "" || strings.ContainsAny(name, "/?") {
			return fmt.Errorf("server: SetApps: invalid app name %q", name)
		}
		if app == nil {
			return fmt.Errorf("server: SetApps: app %q is nil", name)
		}
		m[name] = app
	}
	if !s.started.Load() {
		s.apps = m
		return nil
	}
	eng := make(map[string]*engine.App, len(m))
	for name, app := range m {
		eng[name] = engineApp(name, app, s)
	}
	s.apps = m
	s.sh.SetApps(eng)
	return nil
}
