// Package chunkcodec implements the RTMP chunk stream: the handshake, the
// chunking layer that multiplexes messages over one TCP connection, and the
// protocol control and user control messages that manage it.
//
// It follows Adobe's "Real Time Messaging Protocol" specification 1.0
// (December 2012):
//
//   - section 5.2, the handshake (handshake.go and handshake_*.go);
//   - section 5.3, chunking: the chunk basic header (5.3.1.1), the four
//     message header formats (5.3.1.2.1 to 5.3.1.2.4), the extended
//     timestamp (5.3.1.3); see [Decoder], [AppendMessage];
//   - section 5.4, protocol control messages: Set Chunk Size (5.4.1), Abort
//     (5.4.2), Acknowledgement (5.4.3), Window Acknowledgement Size (5.4.4)
//     and Set Peer Bandwidth (5.4.5); see control.go;
//   - sections 6.2 and 7.1.7, user control messages (Stream Begin, Stream
//     EOF, Stream Dry, Set Buffer Length, Stream Is Recorded, Ping Request and
//     Ping Response).
//
// # Purity
//
// The package is a pure codec: it does no I/O, reads no clock, starts no
// goroutine and keeps no mutable global state. Decoders take bytes and return
// values and a consumed count; encoders append to a caller's slice. The same
// code runs on the gnet transport, on a plain net.Conn, in the load generator
// and in fuzzers.
//
// # Decoding
//
// [Decoder] is a push decoder. The caller hands it whatever the socket
// produced, in any split, and gets back complete messages one at a time:
//
//	for len(p) > 0 {
//		n, m, err := d.Feed(p)
//		p = p[n:]
//		if err != nil {
//			return err // close the connection
//		}
//		if m != nil {
//			handle(m) // m is valid until the next Feed or Release
//		}
//	}
//
// Protocol control messages that change how the stream is parsed (Set Chunk
// Size, Abort, Window Acknowledgement Size) are applied by the decoder itself
// as soon as they are complete, and are also returned to the caller.
//
// Payloads are assembled in buffers taken from a size-classed [BufferPool]
// (one sync.Pool per power-of-two size class) that the caller shares between
// connections through [DecoderConfig].Pool. A chunk stream keeps its buffer
// from one message to the next, so a steady stream decodes without
// allocating; [Decoder.Release] gives every buffer back when the connection
// closes.
//
// # Limits on partial messages
//
// A peer can start messages and never finish them. Per connection,
// [DecoderConfig].MaxBufferedBytes caps the bytes held in partial messages;
// across connections, a shared [Budget] ([DecoderConfig].Budget) caps the
// buffer capacity they hold ([ErrBudgetExceeded]). For time, the owner stamps
// message starts with [Decoder.SetNow] (the codec reads no clock) and asks
// [Decoder.OldestPartial] on its periodic tick, closing connections whose
// oldest partial message is older than its deadline.
//
// # Leniency
//
// Real encoders disagree on a few details; the decoder accepts what the
// widely deployed servers (FFmpeg, SRS, nginx-rtmp) accept:
//
//   - Extended timestamps on type 3 chunks. The specification (5.3.1.3) and
//     librtmp, OBS and FFmpeg repeat the 4-byte extended timestamp on every
//     type 3 chunk of a message whose header carried one; some encoders omit
//     it. When the previous header of the chunk stream used an extended
//     timestamp, the decoder looks at the next 4 bytes: if they equal the
//     extended timestamp field of that header or the message's absolute
//     timestamp, they are the repeated field and are skipped; otherwise they
//     are payload. (A payload that happens to start with exactly those 4
//     bytes from an encoder that omits the field is misread; no decoder can
//     tell the two apart.)
//   - Set Chunk Size: the specification says bit 31 must be zero. The decoder
//     masks it off, as FFmpeg-derived and lenient peers do, then rejects 0
//     ([ErrBadChunkSize]) and values above the configured cap
//     ([ErrChunkSizeTooLarge]).
//   - Protocol control messages are applied by type id whatever chunk stream
//     and message stream they arrive on (the specification asks for chunk
//     stream 2 and message stream 0).
//   - Chunk stream ids 64 to 319 are accepted in the 3-byte basic header form
//     too, not only in the 2-byte form.
//
// # Encoding
//
// [AppendMessage] chunks a message with a type 0 header on its first chunk
// and type 3 headers on the rest. The bytes depend only on the header, the
// payload and the chunk size, never on what was sent before, so one encoding
// can be written to every player that uses the same outbound chunk size.
// The AppendXxx functions in control.go build complete protocol control and
// user control messages; the ParseXxx functions read their payloads.
//
// # Errors
//
// Every error is one of the sentinels in errors.go, possibly wrapped with
// context; match with errors.Is. Errors from a Decoder are sticky: once Feed
// has failed, the connection is unusable and every later Feed returns the
// same error.
package chunkcodec
