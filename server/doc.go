// Package server is Quaver's embedding API and the composition root that wires
// the transports, the sessions, the stream registry, the fanout and the
// recorder together.
//
// An application builds a Server from a Config, registers apps by name (the first
// path element of rtmp://host/<app>/<stream>; "live" and "record" are built in),
// hooks their life cycle with a Handler, and starts and stops the server:
//
//	srv := server.New(server.Config{RTMPAddr: ":1935"})
//	srv.Handle("secure", &server.App{Handler: myAuth{}})
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Shutdown(ctx)
//
// Connections are served by the netpoll reactor. This package holds only the
// API and the composition root: the sessions are state machines in internal
// packages (internal/rtmp for RTMP, internal/httpflv for HTTP-FLV and
// WebSocket-FLV, internal/vod for plays of recordings, all built on
// internal/engine), which run on their connection's event loop and reach the
// application through its Handler. Published media goes into a fanout.Stream,
// which encodes each message once and delivers it to every player with merged
// writes.
//
// # Goroutines
//
// Handlers, custom commands and custom message functions run on the
// connection's event loop and must not block. Session methods are for those
// hooks (loop-only), except Close, which is safe from any goroutine. Server
// methods are safe from any goroutine unless their comment says otherwise
// (Handle: before Start). The server's own goroutines (the janitor, one per
// recording played, the recorder's writers, the admin listener's) are owned
// by the Server, and Shutdown waits for them.
//
// # Budgets
//
// Everything a peer can grow has a limit in Config, per connection, per peer
// address or per server, and each one has an attack in the hostile suite
// (hostile/). Refusals are counted in /metrics (on the admin listener,
// Config.AdminAddr) and logged through a rate
// limiter, so a peer can flood neither memory nor the log.
//
// # Lock order
//
// The stream registry's lock (internal/registry), then a fanout.Stream's
// internal lock. The connection admission lock and the log limiter's lock are
// leaves. No lock is held across disk I/O, a blocking call or a handler.
package server
