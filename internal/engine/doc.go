// Package engine holds what every connection of the server shares: the
// per-connection base that handlers see (Session), the server-wide state the
// protocol sessions read (Shared: limits, the stream registry, the fanout hub,
// the recorder, buffer pools and budgets), the per-loop scratch (Loop), and
// an application's policy and hooks (App, Hooks).
//
// The protocol state machines build on it: internal/rtmp (the RTMP session),
// internal/httpflv (HTTP-FLV, WebSocket-FLV and the HTTP routes) and
// internal/vod (plays of recordings). The server package is the composition
// root: it fills Shared from its Config and adapts the public Handler to
// Hooks.
//
// Operators (the admin API, metrics, the log) see each open connection
// through Shared.Sessions and what it does through Session.Activity, both
// safe from any goroutine (activity.go).
//
// Concurrency: a Session and its Loop are loop-only (the connection's event
// loop), except where a method says otherwise. Shared is built before the
// transports start and its fields are not reassigned after; the objects it
// points to document their own safety.
package engine
