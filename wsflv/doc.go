// Package wsflv is the byte-level codec for browser playback: HTTP/1.1 request
// heads (RFC 9112 sections 2 to 5), the WebSocket opening handshake (RFC 6455
// section 4.2, done with gobwas/ws over exactly the request head's bytes) and
// WebSocket frames (RFC 6455 section 5): server frame headers appended into caller
// buffers, client frames decoded by a push decoder (FrameDecoder) that keeps
// control frames and discards data, and close frame payloads (section 5.5.1,
// status codes of section 7.4); and byte ranges (RFC 9110 section 14: the Range
// field a player seeks a recording with, and the Content-Range of the answer).
//
// Like the other codecs it is pure: no network, no goroutines, no clocks. The
// server feeds it bytes from the event loop and writes what it returns.
package wsflv
