package hostile

import "time"

// Budgets. Each is what an honest deployment must still get, or what the
// server may hold, while one attack runs. Assertions use counts and sizes;
// times appear only as bounds on how long a test waits.

// Honest traffic, every attack.
const (
	// minKeepUp is the share of the frames published during the attack window
	// that every honest viewer must receive: 80% allows a skip to the next
	// keyframe (at most one 1 s GOP of 25 frames in a window of 4-6 s) but
	// not a viewer starved or dropped.
	minKeepUp = 0.80
	// keepUpDrain bounds the wait, after the window closes, for honest viewers
	// to receive the window's last frames (delivery latency, batch window).
	keepUpDrain = 3 * time.Second
)

// Settling after an attack: the child must come back to its baseline.
const (
	// settleBound bounds the wait for goroutines and fds to return.
	settleBound = 10 * time.Second
	// goroutineMargin: goroutines after an attack may exceed the baseline by
	// this many (a metrics scrape, a pprof request, timers in flight).
	goroutineMargin = 20
	// fdMargin: open fds after may exceed the baseline by this many (the
	// scrape's own socket, sockets in the middle of closing).
	fdMargin = 10
	// rssMargin: RSS after may exceed the baseline by this much. Memory must
	// come back after every attack: the server returns free heap over
	// server.DefaultIdleHeapRelease (32 MiB) to the operating system within
	// a few seconds; the rest is the runtime's own slack.
	rssMargin = 48 << 20
)

// 1. Slowloris.
const (
	// slowlorisSockets attackers trickle one byte per second into the RTMP
	// handshake or the HTTP head, never finishing; half on each port.
	slowlorisSockets = 300
	// slowlorisIPs spreads them over this many addresses (10 per address):
	// the handshake timeout, not a per-IP limit, is what this test checks.
	slowlorisIPs = 30
	// slowlorisHandshakeTimeout is passed as -handshake-timeout to keep the
	// test short.
	slowlorisHandshakeTimeout = 2 * time.Second
	// slowlorisCloseSlack: a trickler must be closed within the handshake
	// timeout plus this (the loops check deadlines every 100 ms tick; the rest
	// is scheduling on a loaded 2-core machine).
	slowlorisCloseSlack = 1500 * time.Millisecond
	// slowlorisDuration is the attack window.
	slowlorisDuration = 6 * time.Second
	// slowlorisNewPlayers honest players dial 127.0.0.1 mid-attack and must
	// play (at least one frame).
	slowlorisNewPlayers = 5
)

// 2. Connection flood.
const (
	// floodMaxConnections is passed as -max-connections: the global cap an
	// attacker fills to lock everyone out.
	floodMaxConnections = 200
	// floodAttempts and floodDuration bound the attacker: at most this many
	// connects over at most this long, every accepted socket held.
	floodAttempts = 2000
	floodDuration = 3 * time.Second
	// floodIPs: attackers dial from this many addresses (127.0.0.2-5).
	floodIPs = 4
	// floodDialers run concurrently.
	floodDialers = 50
	// floodPerIP is passed as -max-connections-per-ip: the
	// flood's 4 addresses then hold at most 128 of the 200 connections.
	floodPerIP = "32"
	// floodNewPlayers honest players dial 127.0.0.1 during the flood; every one
	// must play, and /healthz must answer (a per-IP limit and a per-listener
	// share of the global cap make this pass).
	floodNewPlayers = 5
)

// 3. Name churn.
const (
	// churnIterations and churnDuration bound the attacker's
	// createStream/play(new name)/deleteStream loop.
	churnIterations = 50000
	churnDuration   = 5 * time.Second
	// churnHeapPeak is the absolute cap on the child's heap while a single
	// connection churns names: an idle server with one stream holds ~2 MB
	// (the control run); 200 MB is far more than a per-connection names cap
	// lets one connection create, and still a hard stop before swapping.
	churnHeapPeak = 200 << 20
	// churnHeapAfter: the heap must come back within this of its baseline
	// (after a forced GC) once the attacker is gone.
	churnHeapAfter = 50 << 20
	// churnCloseWait bounds the wait, after the attack, for the server to
	// have closed the attacker (a per-connection names cap).
	churnCloseWait = 2 * time.Second
)

// 4. Lookup storm.
const (
	// lookupRecordings small recordings are on disk before start.
	lookupRecordings = 300
	// lookupCommands getStreamLength calls for random (missing) names, pipelined
	// on one connection.
	lookupCommands = 5000
	// lookupHTTP requests for missing names (404s), lookupHTTPConcurrency at a
	// time, from 127.0.0.3 on.
	lookupHTTP            = 500
	lookupHTTPConcurrency = 20
	// lookupDuration bounds the attack.
	lookupDuration = 5 * time.Second
	// lookupCPU: child CPU-seconds during the attack. A lookup of a missing
	// name should cost microseconds (an index), not a directory walk that
	// opens 300 files: 5,500 lookups in 3 CPU-s is already 0.5 ms each.
	lookupCPU = 3.0
	// lookupFDs: open fds at peak may exceed the baseline by at most this
	// (bounded concurrent lookups, not one goroutine with an open file per
	// request).
	lookupFDs = 100
	// lookupAfterWindow and lookupCPUAfter: once the attacker has closed, the
	// child may burn at most lookupCPUAfter CPU-seconds in the following
	// lookupAfterWindow (abandoned lookups must stop).
	lookupAfterWindow = 2 * time.Second
	lookupCPUAfter    = 0.5
)

// 5. Never-reading viewers.
const (
	// neverReadRTMP RTMP players and neverReadFLV HTTP-FLV plus neverReadFLV
	// WebSocket-FLV players play the honest stream and never read.
	neverReadRTMP = 50
	neverReadFLV  = 10
	// neverReadIPs: they come from this many addresses.
	neverReadIPs = 10
	// tinyRcvBuf is SO_RCVBUF of a never-reading attacker (the kernel doubles
	// it and enforces a minimum).
	tinyRcvBuf = 4096
	// The wait for the server to drop them is -stall-timeout (stallTimeout)
	// plus neverReadSlack. The stall clock must start when a viewer stops
	// draining, wherever its bytes queue: an autotuned kernel send buffer (up
	// to 4 MB on Linux, 40 s of this stream) would hide a stuck viewer from
	// user-space watermarks.
	// neverReadSlack covers the 100 ms tick, the time a 4 KB receive window
	// takes to fill, and scheduling.
	neverReadSlack = 6 * time.Second
	// neverReadRSSAfter: RSS may stay this far above its baseline after they
	// are gone (the Go heap returns memory to the OS lazily).
	neverReadRSSAfter = 48 << 20
)

// 6. Command spammer.
const (
	// spamBytes of unknown commands from one connection that never reads,
	// within spamDuration.
	spamBytes    = 40 << 20
	spamDuration = 8 * time.Second
	// spamRSSPeak: RSS may grow at most this much: each unknown command is
	// answered with an _error of ~120 bytes, so 40 MB of commands would queue
	// ~200 MB of replies to a peer that never reads; a per-connection outbound
	// cap must stop it far below.
	spamRSSPeak = 64 << 20
	// spamCloseWait bounds the wait, after the attack, for the server to have
	// closed the spammer.
	spamCloseWait = 3 * time.Second
)

// 7. Partial messages.
const (
	// partialConns connections each declare an 8 MiB message (the default
	// -max-message-size), send all of it but the last chunk quickly, then
	// trickle one byte a second.
	partialConns       = 50
	partialIPs         = 5
	partialMessageSize = 8 << 20
	// partialBudget is passed as -max-partial-bytes: the server-wide budget
	// for bytes held in partial messages (the default, 256 MiB, is sized for
	// thousands of honest publishers).
	partialBudget = "67108864"
	// partialRSSPeak: 50 x 8 MiB would be 400 MB. With a 64 MiB budget the
	// server holds at most twice that in partial messages (past the limit a
	// connection may still take its fair share, so the attackers cannot
	// starve the honest publisher), plus the garbage of buffers outgrown on
	// the way before the GC runs, plus the baseline.
	partialRSSPeak = 300 << 20
	// The wait for every attacker to be closed is -partial-timeout
	// (partialTimeout) plus partialSlack (before that flag existed the only
	// bound was the 60 s idle timeout, which the trickle reset).
	partialSlack = 4 * time.Second
	// partialTimeout is passed as -partial-timeout.
	partialTimeout = "3s"
)

// 8. Publisher flood.
const (
	// pubFloodPublishers attackers publish distinct names from pubFloodIPs
	// addresses, each sending pubFloodFrameBytes video frames at pubFloodFPS.
	pubFloodPublishers = 300
	pubFloodIPs        = 10
	pubFloodFrameBytes = 500
	pubFloodFPS        = 10
	pubFloodDuration   = 5 * time.Second
	// pubFloodHeapPeak: the heap may grow at most this much with 300 small
	// streams (a fanout ring and GOP cache each); 150 MB is 500 KB a stream.
	pubFloodHeapPeak = 150 << 20
)

// 11. VOD reconnect storm.
const (
	// vodStormDuration and vodStormRead: the attacker plays a 5-minute
	// recording with a 10-hour Set Buffer Length (as librtmp sends), reads
	// for vodStormRead, disconnects and starts again until vodStormDuration.
	vodStormDuration = 3 * time.Second
	vodStormRead     = time.Second
	vodStormBuffer   = 36000000
	// vodStormRecording is the recording's length.
	vodStormRecording = 300 * time.Second
	// vodStormBytes: bytes the server may send the attacker over the storm;
	// real-time pacing with a bounded burst gives a few MB a play, so 50 MB
	// means the burst is not re-granted without limit to a reconnecting client.
	vodStormBytes = 50 << 20
)

// 10. RTMPS never-reading viewer.
const (
	// rtmpsAttackers never-reading TLS players; they are waited for as the
	// never-reading viewers are (stallWait).
	rtmpsAttackers = 5
)

// 12. Log flood.
const (
	// logFloodLines: stderr lines the child may write during a connection
	// flood plus a name churn: one line per refused connection or per churned
	// name is a disk-filling amplifier; rate-limited logging stays far below.
	logFloodLines = 500
)

// Tuning flags that shorten the tests.
const (
	// stallTimeout is passed as -stall-timeout (never-reading viewers, RTMPS):
	// how long a viewer that accepts no bytes is kept.
	stallTimeout = "3s"
)
