// Package wsflv is the byte-level codec for browser playback: HTTP/1.1 request
// heads (RFC 9112 section 3 and 5), the WebSocket opening handshake (RFC 6455
// section 4.2, done with gobwas/ws over exactly the request head's bytes) and
// WebSocket frames (RFC 6455 section 5): server frame headers appended into caller
// buffers, client frame headers parsed from bytes.
//
// Like the other codecs it is pure: no network, no goroutines, no clocks. The
// server feeds it bytes from the event loop and writes what it returns.
package wsflv
