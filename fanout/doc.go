// Package fanout delivers a published stream to many subscribers on many event
// loops, encoding each message once.
//
// Data path: the publisher's session calls Stream.BeginPublish, which returns the
// session's publish epoch, then Stream.PublishAs with that epoch for each audio,
// video or data message, and Stream.EndPublishAs at the end. The epoch is checked
// under the stream's writer lock, so once another session's BeginPublish has
// returned, nothing of the replaced publisher gets into the stream
// (ErrNotPublisher); Publish is the same without the check. Each message is
// chunk-encoded once (a type-0 first chunk with an absolute timestamp, type-3
// continuations, a fixed chunk stream per kind, message stream id 1, the hub's
// outbound chunk size) into a pooled, reference-counted Packet and stored in the
// stream's ring. The same bytes go to every RTMP player; nothing is copied per
// player.
//
// The ring has a single writer at a time (a mutex serialises publisher changes; it
// is uncontended in steady state) and lock-free readers: a reader acquires a packet
// with a compare-and-swap on its reference count and then checks the packet's
// owner and sequence number. Packet pools are shared by every stream of the
// process and every stream numbers its packets from 0, so the owner is a
// process-unique stream id: a packet recycled by its own stream or taken by any
// other stream is never read.
//
// The ring's slots are allocated on the stream's first publish; a stream that
// only ever had players waiting for it holds its own small struct. Retention is
// counted in bytes really held (each packet buffer's capacity, which holds the
// RTMP, WebSocket and FLV forms): the current GOP while the GOP cache serves it,
// plus Config.LagBytes before it for lagging subscribers (only LagBytes without a
// served GOP), and never more than Config.MaxRingBytes beyond a served GOP. Older
// packets are released whether or not anyone watches; Stream.MemoryBytes reports
// what a stream holds.
//
// Delivery is batched per loop: a stream's subscribers on one loop form a group;
// the writer marks the group pending and pushes it on that loop's lock-free dirty
// list, and at most one flush task per loop is scheduled per batch: at once with
// no batch window, or with one (Config.BatchWindow) at once after an idle spell
// and otherwise one window after the loop's last flush, on the hub's timer. A
// flush hands each subscriber everything it has pending in one writev (merged
// write), in slices of at most 2 ms of the loop's time so that the loop reads its
// sockets in between. Audio of a stream with recent video waits for the next
// video frame. The transport's periodic tick (Hub.TickLoop) flushes only what is
// overdue.
//
// GOP cache: the stream remembers the newest metadata, the audio and video
// sequence headers, and the ring position of the newest keyframe (every audio
// frame counts as one on an audio-only stream). A joining subscriber receives the
// metadata and sequence headers, then the ring from that keyframe, at once.
//
// FLV subscribers (HTTP-FLV, WebSocket-FLV) get tag timestamps that start at 0
// with their first packet, mapped with serial arithmetic (flvmux.Timeline), so they
// keep increasing past 2^31 and 2^32 ms.
//
// Writes and memory: a subscriber's bytes are the ring's packets, shared. With a
// transport that can write without queueing (DirectSink: netpoll's gnet
// connections), a flush writes what the socket takes, queues in the transport
// only the rest of the message it stopped in, and leaves the messages after it
// in the ring for a later flush; a transport with queued bytes is not written
// to until they are gone. So a viewer whose socket is full holds at most one
// message of its own, not a batch (or its whole backlog), in user space. Other
// sinks (the standard-library transport, recordings, wrappers that do not
// expose TryWritev) queue what the socket does not take.
//
// Slow subscribers: each has high and low watermarks on bytes queued in its
// transport. Above the high mark nothing more is queued; once it drains below the
// low mark it resumes at the newest keyframe. A DirectSink's backlog stays in
// the ring, and a subscriber that falls behind what the ring retains restarts at
// the newest keyframe. Past a hard cap it is closed, and
// so is a subscriber whose transport takes none of its bytes for the stall
// timeout: seen from its backlog not shrinking between flushes, which starts as
// soon as the socket's send buffer is full, long before the high mark behind a
// large kernel buffer. The publisher never waits for a subscriber, and a
// subscriber never pins ring memory between flushes.
//
// This package does not import gnet: loops and sinks are small interfaces, so the
// same fanout serves the gnet reactor and the standard-library transport.
package fanout
