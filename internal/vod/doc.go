// Package vod plays recordings: a play of a name that no publisher is live on
// plays the newest recording of that name.
//
// RTMP, HTTP-FLV and WebSocket-FLV plays that find no live publisher look the
// name up with recorder.Manager.Find: "<stream>" is the app's newest recording
// of that stream, "<file>.flv" (or "<file>" when the client strips the
// extension, as FFmpeg does) a file in the app's folder. The app's Handler.OnPlay
// has already accepted the play, exactly as for a live one.
//
// Threading: the session runs on its event loop, where disk I/O must never
// happen. Each VOD play therefore has one goroutine that finds, opens and reads
// the file and prepares the bytes to send (RTMP chunks, or raw FLV for HTTP and
// WebSocket). It hands them to the loop with Loop.Execute, one task at a time,
// and waits for that task to run: the task writes the bytes (if the play is
// still on), and reports the connection's outbound backlog. At most one batch
// (BatchBytes) and the connection's backlog (the high watermark plus one
// batch) are in flight per play. The watermarks and the stall timeout are the
// fanout's (engine.Limits.Fanout), so live and recorded plays share one slow-viewer
// policy. The goroutine waits on timers and a wake channel, never
// spins. The session's close (or deleteStream/closeStream) stops the play on the
// loop: the goroutine's context is cancelled, it returns and closes the file.
//
// RTMP plays are paced at real time: a tag with timestamp t is sent once
// t <= playhead + buffer length + lead, where the playhead advances with the
// wall clock from the play (or seek) position and stops while paused, and the
// buffer length is what the player announced with Set Buffer Length (user
// control event 3; DefaultBufferLength until it does). seek jumps to the
// keyframe at or before the time (the metadata's keyframe index, or a scan of
// the tags); pause and unpause stop and restart the clock. The end is Stream
// EOF, NetStream.Play.Stop and onPlayStatus NetStream.Play.Complete, sent once
// the playhead reaches the last tag (so however long the buffer, a play lasts
// at least the recording's duration); the play stays open so the player can
// seek back.
//
// HTTP-FLV and WebSocket-FLV plays send the file as fast as the client reads it
// (reading more only while the outbound backlog is under the high watermark). With
// ?start=SECONDS they send the FLV header, the metadata, the sequence headers and
// then the file from the keyframe at or before that time. HTTP closes after the
// last byte; WebSocket sends close 1000 "end of recording".
//
// HTTP plays answer byte ranges (RFC 9110 section 14, parsed by
// wsflv.ParseRange; the session passes the Range field with Play.SetRange):
// one range is sent with 206 Partial Content, an unsatisfiable one gets 416
// with no body, anything else (several ranges, an If-Range, an invalid field)
// the whole representation with 200. This is how FFmpeg and the browsers'
// players seek with the metadata's keyframe index. The range applies to the
// representation the URL names: the file, or with ?start= the synthesized
// headers followed by the file from the keyframe, so a client seeking inside
// a ?start= answer gets bytes of that same answer.
//
// The protocol sessions (internal/rtmp, internal/httpflv) start plays and
// own what is protocol-specific on the loop: what a play sends when the file
// is open (Play.OnBegin) and what happens when there is none (Play.OnNotFound).
package vod
