// Package relay moves streams between servers: an edge pulls a stream from
// its origins when a player asks for it (Puller), with one upstream play per
// stream however many players, failover across origins, and no upstream
// while nobody watches.
//
// A pull is a publisher in the stream registry like any other: its media go
// through the same fanout stream (one encoding, GOP cache, slow-viewer
// policy) to RTMP, HTTP-FLV and WebSocket-FLV players alike.
//
// Goroutines: one per stream being pulled, owned by the Manager (Stop
// cancels and waits). They never run on an event loop; they talk to the
// players only through the registry, the fanout stream and deferred
// decisions (engine.Decision).
package relay
