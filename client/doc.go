// Package client is a small RTMP client over a net.Conn: it dials, performs
// the handshake, connects to an app, and then publishes or plays one stream,
// or invokes custom commands.
//
// It is what Quaver's end-to-end tests, its load generator (cmd/rtmpbench,
// thousands of players per process) and embedding applications use to talk
// to an RTMP server, so it keeps per-connection memory small and its read
// path allocation-free in steady state. The wire work is done by the pure
// codecs: chunkcodec (handshake, chunk stream, control messages) and amf0
// (command bodies).
//
// It implements the client side of Adobe's "Real Time Messaging Protocol"
// specification 1.0 (December 2012):
//
//   - section 5.2, the handshake (simple, or the Flash Player digest variant
//     with Config.Digest);
//   - sections 5.3 and 5.4, chunking and protocol control: the outbound chunk
//     size is announced with Set Chunk Size, the inbound one follows the
//     server's, and Acknowledgements are sent when the server's window is
//     reached;
//   - section 6.2 and 7.1.7, user control: Ping Requests are answered; the
//     stream events (Stream Begin, Stream EOF, Stream Dry, Stream Is
//     Recorded) are returned to the application;
//   - section 7.2.1, NetConnection commands: connect, createStream and
//     custom calls answered by _result or _error;
//   - section 7.2.2, NetStream commands: publish and play, answered by
//     onStatus; plus the de-facto releaseStream / FCPublish / deleteStream
//     sequence that FMLE, OBS and FFmpeg send.
//
// # Usage
//
//	c, err := client.Dial(ctx, "rtmp://127.0.0.1/live/cam1", client.Config{})
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Play(ctx, c.StreamName()); err != nil { ... }
//	for {
//		m, err := c.ReadMessage() // m is valid until the next read
//		if err != nil { ... }
//		switch m.TypeID {
//		case chunkcodec.TypeVideo, chunkcodec.TypeAudio: ...
//		case chunkcodec.TypeCommandAMF0:
//			if code, ok := client.StatusCode(m); ok { ... } // e.g. NetStream.Play.UnpublishNotify
//		case chunkcodec.TypeUserControl:
//			if ev, ok := client.UserControlEvent(m); ok && ev.Event == chunkcodec.EventStreamEOF { ... }
//		}
//	}
//
// # Concurrency
//
// A Conn has one reader: Dial, Publish, Play, Call and ReadMessage read from
// the connection and must not run concurrently with each other. The writing
// methods (WriteMessage, WriteMetaData), SetReadDeadline and Close are safe
// from any goroutine, also while a read is in progress; Close unblocks it.
package client
