package wsflv_test

// The case tables for the two decoders of this package. They drive the decode
// tests, the encode and round-trip tests, the split-invariance tests, the fuzz
// seeds and the benchmarks.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/quaverlive/quaver/wsflv"
)

// requestCase is one HTTP request head on the wire and what ReadRequest makes
// of it. A case with err == nil and more == true is an incomplete head
// (n == 0, nil error); otherwise n is the head's length, up to and including
// the first CRLF CRLF.
type requestCase struct {
	name string
	wire string
	more bool  // incomplete: ReadRequest must return 0, nil
	err  error // expected sentinel

	method, target, path, query, proto string
	host                               string      // Request.Host
	headers                            [][2]string // name, value in order

	// bug, when set, names a known codec defect (the case states the
	// behaviour RFC 9112 asks for). A mismatch skips the case with this
	// text instead of failing, so the case starts passing once fixed.
	bug string
}

// rfcKey and rfcAccept are RFC 6455's example (section 1.3).
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// browserUpgrade is a WebSocket opening handshake as Chromium sends it.
const browserUpgrade = "GET /live/cam.flv?token=abc HTTP/1.1\r\n" +
	"Host: 127.0.0.1:8080\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: http://127.0.0.1:8080\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: " + rfcKey + "\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

// browserHeaders are browserUpgrade's header fields.
var browserHeaders = [][2]string{
	{"Host", "127.0.0.1:8080"},
	{"Connection", "Upgrade"},
	{"Pragma", "no-cache"},
	{"Cache-Control", "no-cache"},
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"},
	{"Upgrade", "websocket"},
	{"Origin", "http://127.0.0.1:8080"},
	{"Sec-WebSocket-Version", "13"},
	{"Accept-Encoding", "gzip, deflate, br, zstd"},
	{"Accept-Language", "en-US,en;q=0.9"},
	{"Sec-WebSocket-Key", rfcKey},
	{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
}

// headOfSize returns a complete GET head of exactly size bytes, padded with
// one header field.
func headOfSize(size int) string {
	const pre = "GET /live/a.flv HTTP/1.1\r\nX-Pad: "
	const post = "\r\n\r\n"
	return pre + strings.Repeat("p", size-len(pre)-len(post)) + post
}

// headWithHeaders returns a GET head with n header fields H0..Hn-1.
func headWithHeaders(n int) (string, [][2]string) {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	hs := make([][2]string, n)
	for i := range n {
		hs[i] = [2]string{fmt.Sprintf("H%d", i), fmt.Sprintf("v%d", i)}
		fmt.Fprintf(&b, "%s: %s\r\n", hs[i][0], hs[i][1])
	}
	b.WriteString("\r\n")
	return b.String(), hs
}

func requestCases() []requestCase {
	atLimit := headOfSize(wsflv.MaxRequestHeadSize)
	maxHdrs, maxHdrsList := headWithHeaders(wsflv.MaxHeaders)
	tooMany, _ := headWithHeaders(wsflv.MaxHeaders + 1)
	return []requestCase{
		// Complete heads.
		{name: "browser upgrade", wire: browserUpgrade, method: "GET", target: "/live/cam.flv?token=abc",
			path: "/live/cam.flv", query: "token=abc", proto: "HTTP/1.1", host: "127.0.0.1:8080", headers: browserHeaders},
		{name: "no headers HTTP/1.0", wire: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", path: "/", proto: "HTTP/1.0"},
		{name: "curl HTTP-FLV", wire: "GET /live/cam.flv HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
			method: "GET", target: "/live/cam.flv", path: "/live/cam.flv", proto: "HTTP/1.1", host: "localhost:8080",
			headers: [][2]string{{"Host", "localhost:8080"}, {"User-Agent", "curl/8.5.0"}, {"Accept", "*/*"}}},
		{name: "empty query", wire: "GET /a? HTTP/1.1\r\n\r\n", method: "GET", target: "/a?", path: "/a", proto: "HTTP/1.1"},
		{name: "query with second question mark", wire: "GET /a?x=1?y HTTP/1.1\r\n\r\n", method: "GET", target: "/a?x=1?y",
			path: "/a", query: "x=1?y", proto: "HTTP/1.1"},
		{name: "OPTIONS preflight", wire: "OPTIONS /live/a.flv HTTP/1.1\r\nOrigin: http://x\r\nAccess-Control-Request-Method: GET\r\n\r\n",
			method: "OPTIONS", target: "/live/a.flv", path: "/live/a.flv", proto: "HTTP/1.1",
			headers: [][2]string{{"Origin", "http://x"}, {"Access-Control-Request-Method", "GET"}}},
		// RFC 9112 section 3.2.2: the path is the URI's, the authority
		// replaces any Host field.
		{name: "absolute-form target", wire: "GET http://h/live/a.flv HTTP/1.1\r\nHost: other\r\n\r\n", method: "GET",
			target: "http://h/live/a.flv", path: "/live/a.flv", proto: "HTTP/1.1", host: "h", headers: [][2]string{{"Host", "other"}}},
		{name: "absolute-form HTTPS with port and query", wire: "GET HTTPS://cdn.example-1.net:8443/live/a.flv?t=1 HTTP/1.1\r\n\r\n",
			method: "GET", target: "HTTPS://cdn.example-1.net:8443/live/a.flv?t=1", path: "/live/a.flv", query: "t=1",
			proto: "HTTP/1.1", host: "cdn.example-1.net:8443"},
		{name: "absolute-form without path", wire: "GET http://h?x HTTP/1.1\r\n\r\n", method: "GET",
			target: "http://h?x", path: "", query: "x", proto: "HTTP/1.1", host: "h"},
		{name: "asterisk-form OPTIONS", wire: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", method: "OPTIONS",
			target: "*", path: "*", proto: "HTTP/1.1", host: "h", headers: [][2]string{{"Host", "h"}}},
		{name: "percent escapes in path", wire: "GET /live/a%2Fb%20c.flv?q=%zz HTTP/1.1\r\n\r\n", method: "GET",
			target: "/live/a%2Fb%20c.flv?q=%zz", path: "/live/a%2Fb%20c.flv", query: "q=%zz", proto: "HTTP/1.1"},
		{name: "double slash is a path", wire: "GET //evil/live/a.flv HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET",
			target: "//evil/live/a.flv", path: "//evil/live/a.flv", proto: "HTTP/1.1", host: "h", headers: [][2]string{{"Host", "h"}}},
		{name: "Content-Length", wire: "GET / HTTP/1.1\r\nContent-Length: 000000000000000042\r\n\r\n", method: "GET",
			target: "/", path: "/", proto: "HTTP/1.1", headers: [][2]string{{"Content-Length", "000000000000000042"}}},
		{name: "HTTP/1.9", wire: "GET / HTTP/1.9\r\n\r\n", method: "GET", target: "/", path: "/", proto: "HTTP/1.9"},
		{name: "optional whitespace trimmed", wire: "GET / HTTP/1.1\r\nA:   v  \r\nB:\t\tw\t\r\nC:\r\nD:x\r\n\r\n",
			method: "GET", target: "/", path: "/", proto: "HTTP/1.1",
			headers: [][2]string{{"A", "v"}, {"B", "w"}, {"C", ""}, {"D", "x"}}},
		{name: "pipelined bytes after head", wire: "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nBODY",
			method: "POST", target: "/x", path: "/x", proto: "HTTP/1.1", headers: [][2]string{{"Content-Length", "4"}}},
		{name: "exactly MaxHeaders fields", wire: maxHdrs, method: "GET", target: "/", path: "/", proto: "HTTP/1.1", headers: maxHdrsList},
		{name: "head exactly MaxRequestHeadSize", wire: atLimit, method: "GET", target: "/live/a.flv", path: "/live/a.flv",
			proto: "HTTP/1.1", headers: [][2]string{{"X-Pad", strings.Repeat("p", wsflv.MaxRequestHeadSize-len("GET /live/a.flv HTTP/1.1\r\nX-Pad: \r\n\r\n"))}}},

		// Incomplete heads.
		{name: "empty", wire: "", more: true},
		{name: "request line only", wire: "GET / HTTP/1.1\r\n", more: true},
		{name: "missing final CRLF", wire: "GET / HTTP/1.1\r\nHost: h\r\n", more: true},
		{name: "half of final CRLF", wire: "GET / HTTP/1.1\r\nHost: h\r\n\r", more: true},
		// A head ended by bare LFs is never complete: the caller's size limit
		// or timeout ends the connection.
		// RFC 9112 section 2.2: a recipient MAY take a bare LF as a line end.
		{name: "bare LF line endings", wire: "GET / HTTP/1.1\nHost: h\n\n",
			method: "GET", target: "/", path: "/", proto: "HTTP/1.1", host: "h", headers: [][2]string{{"Host", "h"}}},
		{name: "MaxRequestHeadSize bytes without end", wire: atLimit[:wsflv.MaxRequestHeadSize-4] + "pppp", more: true},

		// Hostile heads.
		{name: "head one byte over MaxRequestHeadSize", wire: headOfSize(wsflv.MaxRequestHeadSize + 1), err: wsflv.ErrHeaderTooLarge},
		{name: "no end after MaxRequestHeadSize", wire: strings.Repeat("G", wsflv.MaxRequestHeadSize+1), err: wsflv.ErrHeaderTooLarge},
		{name: "MaxHeaders+1 fields", wire: tooMany, err: wsflv.ErrTooManyHeaders},
		{name: "obs-fold continuation line", wire: "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "obs-fold with tab", wire: "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "missing method", wire: " / HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "missing target", wire: "GET HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty target", wire: "GET  HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "missing protocol", wire: "GET /\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty protocol", wire: "GET / \r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "HTTP/2 protocol", wire: "GET / HTTP/2.0\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "not HTTP", wire: "GET / RTSP/1.0\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "lower-case method", wire: "get / HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "binary garbage line", wire: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty request line", wire: "\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "field without colon", wire: "GET / HTTP/1.1\r\nHost h\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty field name", wire: "GET / HTTP/1.1\r\n: v\r\n\r\n", err: wsflv.ErrBadRequest},
		// A bare LF ends a field line (RFC 9112 section 2.2); it never ends up inside a value.
		{name: "bare LF inside a field line", wire: "GET / HTTP/1.1\r\nHost: a\nX-Smuggled: b\r\n\r\n",
			method: "GET", target: "/", path: "/", proto: "HTTP/1.1", host: "a", headers: [][2]string{{"Host", "a"}, {"X-Smuggled", "b"}}},
		{name: "bare LF inside the request line", wire: "GET /a\nb HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "bare CR inside a value", wire: "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "whitespace before colon", wire: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "space inside the target", wire: "GET /a b HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},

		// Heads net/http refuses or reads another way (FuzzReadRequestNetHTTP):
		// request smuggling and path or host confusion.
		{name: "version with a letter", wire: "GET / HTTP/1.x\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "relative target", wire: "GET live/a.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "other scheme", wire: "GET x:/live/a.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "scheme without authority", wire: "GET http:/live/a.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty authority", wire: "GET http:///live/a.flv HTTP/1.1\r\nHost: h\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "userinfo in authority", wire: "GET http://u@h/live/a.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "IP literal authority", wire: "GET http://[::1]/live/a.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "port with a letter", wire: "GET http://h:8o/ HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "two colons in authority", wire: "GET http://h:1:2/ HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "query only", wire: "GET ? HTTP/1.0\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "asterisk with GET", wire: "GET * HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "CONNECT authority-form", wire: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "CONNECT absolute-form", wire: "CONNECT http://h/ HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "bad percent escape", wire: "GET /live/%zz.flv HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "truncated percent escape", wire: "GET /live/a%2 HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "two Host fields", wire: "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "two Host fields with absolute-form", wire: "GET http://h/ HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "Transfer-Encoding chunked", wire: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "Transfer-Encoding and Content-Length", wire: "POST / HTTP/1.1\r\nContent-Length: 4\r\ntransfer-encoding: chunked\r\n\r\n",
			err: wsflv.ErrBadRequest},
		{name: "two Content-Length fields", wire: "POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "Content-Length list", wire: "POST / HTTP/1.1\r\nContent-Length: 4, 4\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "signed Content-Length", wire: "POST / HTTP/1.1\r\nContent-Length: +4\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "empty Content-Length", wire: "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "19-digit Content-Length", wire: "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", err: wsflv.ErrBadRequest},
	}
}

// frameCase is one client-to-server frame (header, possibly followed by
// payload bytes) and what ReadFrameHeader makes of it. err == nil and n == 0
// is "need more bytes".
type frameCase struct {
	name string
	wire []byte
	want wsflv.FrameHeader
	n    int
	err  error
}

// mask is the masking key used by the hand-written cases.
var mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// clientFrame builds a masked (or not) client frame header with the given
// first byte, length encoding and key, followed by payload.
func clientFrame(b0 byte, masked bool, length uint64, lenBytes int, payload []byte) []byte {
	var mb byte
	if masked {
		mb = 0x80
	}
	b := []byte{b0}
	switch lenBytes {
	case 0:
		b = append(b, mb|byte(length))
	case 2:
		b = append(b, mb|126)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	case 8:
		b = append(b, mb|127)
		b = binary.BigEndian.AppendUint64(b, length)
	}
	if masked {
		b = append(b, mask[:]...)
	}
	return append(b, payload...)
}

func frameCases() []frameCase {
	fh := func(fin bool, op byte, length int) wsflv.FrameHeader {
		return wsflv.FrameHeader{Fin: fin, Opcode: op, Masked: true, Mask: mask, Length: length}
	}
	return []frameCase{
		// RFC 6455 section 5.7: a single-frame masked text message "Hello".
		{name: "RFC 5.7 masked Hello", wire: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			want: fh(true, wsflv.OpText, 5), n: 6},
		{name: "empty ping", wire: clientFrame(0x89, true, 0, 0, nil), want: fh(true, wsflv.OpPing, 0), n: 6},
		{name: "ping with payload", wire: clientFrame(0x89, true, 4, 0, []byte{1, 2, 3, 4}), want: fh(true, wsflv.OpPing, 4), n: 6},
		{name: "ping 125 bytes", wire: clientFrame(0x89, true, 125, 0, nil), want: fh(true, wsflv.OpPing, 125), n: 6},
		{name: "pong", wire: clientFrame(0x8A, true, 3, 0, nil), want: fh(true, wsflv.OpPong, 3), n: 6},
		{name: "close 1000", wire: clientFrame(0x88, true, 2, 0, []byte{0x03 ^ 0x37, 0xe8 ^ 0xfa}), want: fh(true, wsflv.OpClose, 2), n: 6},
		{name: "binary 16-bit length 126", wire: clientFrame(0x82, true, 126, 2, nil), want: fh(true, wsflv.OpBinary, 126), n: 8},
		{name: "binary 16-bit length MaxClientFrame", wire: clientFrame(0x82, true, wsflv.MaxClientFrame, 2, nil),
			want: fh(true, wsflv.OpBinary, wsflv.MaxClientFrame), n: 8},
		{name: "binary 64-bit length MaxClientFrame", wire: clientFrame(0x82, true, wsflv.MaxClientFrame, 8, nil),
			want: fh(true, wsflv.OpBinary, wsflv.MaxClientFrame), n: 14},
		{name: "first fragment of text", wire: clientFrame(0x01, true, 10, 0, nil), want: fh(false, wsflv.OpText, 10), n: 6},
		{name: "final continuation", wire: clientFrame(0x80, true, 0, 0, nil), want: fh(true, wsflv.OpContinuation, 0), n: 6},
		// Receivers need not enforce the minimal length encoding.
		{name: "non-minimal 16-bit length", wire: clientFrame(0x82, true, 5, 2, nil), want: fh(true, wsflv.OpBinary, 5), n: 8},

		// Incomplete headers.
		{name: "empty", wire: nil},
		{name: "one byte", wire: []byte{0x89}},
		{name: "mask key missing", wire: []byte{0x89, 0x80}},
		{name: "mask key partial", wire: []byte{0x89, 0x80, 0x37, 0xfa, 0x21}},
		{name: "16-bit length partial", wire: []byte{0x82, 0xfe, 0x00}},
		{name: "64-bit length partial", wire: []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x10}},

		// Hostile headers.
		{name: "unmasked text", wire: clientFrame(0x81, false, 2, 0, []byte("hi")), err: wsflv.ErrUnmasked},
		{name: "unmasked ping", wire: clientFrame(0x89, false, 0, 0, nil), err: wsflv.ErrUnmasked},
		{name: "ping 126 bytes", wire: clientFrame(0x89, true, 126, 2, nil), err: wsflv.ErrControlTooLarge},
		{name: "close with 64-bit length 126", wire: clientFrame(0x88, true, 126, 8, nil), err: wsflv.ErrControlTooLarge},
		{name: "fragmented ping", wire: clientFrame(0x09, true, 0, 0, nil), err: wsflv.ErrFragmentedCtrl},
		{name: "fragmented close", wire: clientFrame(0x08, true, 2, 0, nil), err: wsflv.ErrFragmentedCtrl},
		{name: "reserved data opcode 3", wire: clientFrame(0x83, true, 0, 0, nil), err: wsflv.ErrBadOpcode},
		{name: "reserved control opcode 0xB", wire: clientFrame(0x8B, true, 0, 0, nil), err: wsflv.ErrBadOpcode},
		{name: "RSV1 set", wire: clientFrame(0xC2, true, 0, 0, nil), err: wsflv.ErrReservedBits},
		{name: "RSV2 set", wire: clientFrame(0xA2, true, 0, 0, nil), err: wsflv.ErrReservedBits},
		{name: "RSV3 set", wire: clientFrame(0x92, true, 0, 0, nil), err: wsflv.ErrReservedBits},
		{name: "16-bit length over cap", wire: clientFrame(0x82, true, wsflv.MaxClientFrame+1, 2, nil), err: wsflv.ErrFrameTooLarge},
		{name: "64-bit length over cap", wire: clientFrame(0x82, true, wsflv.MaxClientFrame+1, 8, nil), err: wsflv.ErrFrameTooLarge},
		{name: "64-bit length with MSB set", wire: clientFrame(0x82, true, 1<<63, 8, nil), err: wsflv.ErrFrameTooLarge},
		{name: "64-bit length 1 TiB unmasked", wire: clientFrame(0x82, false, 1<<40, 8, nil), err: wsflv.ErrFrameTooLarge},
	}
}

// encodeCase is one server frame header AppendFrameHeader must produce.
type encodeCase struct {
	fin    bool
	opcode byte
	n      int
	want   []byte
}

var encodeCases = []encodeCase{
	{true, wsflv.OpBinary, 0, []byte{0x82, 0}},
	{true, wsflv.OpBinary, 125, []byte{0x82, 125}},
	{true, wsflv.OpBinary, 126, []byte{0x82, 126, 0, 126}},
	{true, wsflv.OpBinary, 65535, []byte{0x82, 126, 0xff, 0xff}},
	{true, wsflv.OpBinary, 65536, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	{true, wsflv.OpBinary, 1 << 20, []byte{0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0}},
	{false, wsflv.OpText, 5, []byte{0x01, 5}},
	{true, wsflv.OpPong, 4, []byte{0x8A, 4}},
	{true, wsflv.OpClose, 2, []byte{0x88, 2}},
	{false, wsflv.OpContinuation, 300, []byte{0x00, 126, 0x01, 0x2c}},
}

// serverHeader is a server-to-client frame header as a client reads it.
type serverHeader struct {
	fin    bool
	rsv    byte
	opcode byte
	masked bool
	length uint64
}

// readServerFrameHeader is an independent RFC 6455 section 5.2 reader for the
// frames the server writes: it returns the header and its length, or 0 when b
// is too short.
func readServerFrameHeader(b []byte) (serverHeader, int) {
	if len(b) < 2 {
		return serverHeader{}, 0
	}
	h := serverHeader{
		fin:    b[0]>>7 == 1,
		rsv:    (b[0] >> 4) & 7,
		opcode: b[0] & 15,
		masked: b[1]>>7 == 1,
		length: uint64(b[1] & 127),
	}
	n := 2
	switch h.length {
	case 126:
		if len(b) < 4 {
			return serverHeader{}, 0
		}
		h.length = uint64(b[2])<<8 | uint64(b[3])
		n = 4
	case 127:
		if len(b) < 10 {
			return serverHeader{}, 0
		}
		h.length = 0
		for _, c := range b[2:10] {
			h.length = h.length<<8 | uint64(c)
		}
		n = 10
	}
	if h.masked {
		n += 4
		if len(b) < n {
			return serverHeader{}, 0
		}
	}
	return h, n
}

// streamCase is a stream of client frames on the wire and what FrameDecoder
// makes of it: the frames in order, then err (nil: every byte consumed, the
// last frame possibly incomplete).
type streamCase struct {
	name   string
	wire   []byte
	frames []wsflv.Frame
	err    error
}

// masked encodes a client frame with first byte b0 and payload, masked with
// mask, in the minimal length encoding.
func masked(b0 byte, payload []byte) []byte {
	b := wsflv.AppendFrameHeader(nil, b0&0x80 != 0, b0&0x0f, len(payload))
	b[0] = b0
	b[1] |= 0x80
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	wsflv.Unmask(b[start:], mask, 0)
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ctl and data are the frames FrameDecoder returns: a control frame with its
// unmasked payload, a data frame with its length and no payload.
func ctl(op byte, payload string) wsflv.Frame {
	return wsflv.Frame{Fin: true, Opcode: op, Length: len(payload), Payload: []byte(payload)}
}

func data(fin bool, op byte, length int) wsflv.Frame {
	return wsflv.Frame{Fin: fin, Opcode: op, Length: length}
}

func closePayload(code uint16, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, code)) + reason
}

func streamCases() []streamCase {
	ping125 := strings.Repeat("p", wsflv.MaxControlPayload)
	bin := func(n int) []byte { return bytes.Repeat([]byte{0xA5}, n) }
	return []streamCase{
		// RFC 6455 section 5.7.
		{name: "RFC 5.7 masked Hello", wire: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			frames: []wsflv.Frame{data(true, wsflv.OpText, 5)}},
		{name: "RFC 5.7 masked pong Hello", wire: []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58},
			frames: []wsflv.Frame{ctl(wsflv.OpPong, "Hello")}},
		{name: "RFC 5.7 unmasked Hello", wire: []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, err: wsflv.ErrUnmasked},
		{name: "RFC 5.7 unmasked ping Hello", wire: []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, err: wsflv.ErrUnmasked},

		// Control frames.
		{name: "empty ping", wire: masked(0x89, nil), frames: []wsflv.Frame{ctl(wsflv.OpPing, "")}},
		{name: "ping 125 bytes", wire: masked(0x89, []byte(ping125)), frames: []wsflv.Frame{ctl(wsflv.OpPing, ping125)}},
		{name: "close 1000 with reason", wire: masked(0x88, []byte(closePayload(1000, "bye"))),
			frames: []wsflv.Frame{ctl(wsflv.OpClose, closePayload(1000, "bye"))}},
		{name: "empty close", wire: masked(0x88, nil), frames: []wsflv.Frame{ctl(wsflv.OpClose, "")}},
		{name: "two pings", wire: cat(masked(0x89, []byte("a")), masked(0x89, []byte("bc"))),
			frames: []wsflv.Frame{ctl(wsflv.OpPing, "a"), ctl(wsflv.OpPing, "bc")}},
		{name: "frames after close", wire: cat(masked(0x88, nil), masked(0x89, []byte("late"))),
			frames: []wsflv.Frame{ctl(wsflv.OpClose, ""), ctl(wsflv.OpPing, "late")}},

		// Data frames are skipped, whatever their length encoding.
		{name: "empty binary", wire: masked(0x82, nil), frames: []wsflv.Frame{data(true, wsflv.OpBinary, 0)}},
		{name: "binary 300 bytes", wire: masked(0x82, bin(300)), frames: []wsflv.Frame{data(true, wsflv.OpBinary, 300)}},
		{name: "binary MaxClientFrame 64-bit length", wire: cat(clientFrame(0x82, true, wsflv.MaxClientFrame, 8, nil), bin(wsflv.MaxClientFrame)),
			frames: []wsflv.Frame{data(true, wsflv.OpBinary, wsflv.MaxClientFrame)}},
		{name: "mix of pings, data and close",
			wire: cat(masked(0x89, []byte("1")), masked(0x82, bin(200)), masked(0x8A, nil), masked(0x81, []byte("hi")),
				masked(0x89, []byte("2")), masked(0x88, []byte(closePayload(1001, "")))),
			frames: []wsflv.Frame{ctl(wsflv.OpPing, "1"), data(true, wsflv.OpBinary, 200), ctl(wsflv.OpPong, ""),
				data(true, wsflv.OpText, 2), ctl(wsflv.OpPing, "2"), ctl(wsflv.OpClose, closePayload(1001, ""))}},
		// Section 5.4: control frames may be injected between fragments.
		{name: "fragmented text with a ping between",
			wire: cat(masked(0x01, []byte("Hel")), masked(0x89, []byte("x")), masked(0x00, []byte("l")), masked(0x80, []byte("o"))),
			frames: []wsflv.Frame{data(false, wsflv.OpText, 3), ctl(wsflv.OpPing, "x"), data(false, wsflv.OpContinuation, 1),
				data(true, wsflv.OpContinuation, 1)}},
		{name: "two fragmented messages", wire: cat(masked(0x02, bin(2)), masked(0x80, nil), masked(0x01, nil), masked(0x80, bin(1))),
			frames: []wsflv.Frame{data(false, wsflv.OpBinary, 2), data(true, wsflv.OpContinuation, 0),
				data(false, wsflv.OpText, 0), data(true, wsflv.OpContinuation, 1)}},

		// Incomplete: what is complete comes out, the rest waits.
		{name: "empty", wire: nil},
		{name: "partial header", wire: masked(0x89, nil)[:3]},
		{name: "partial ping payload", wire: masked(0x89, []byte("abcd"))[:8]},
		{name: "ping then partial 64-bit header", wire: cat(masked(0x89, nil), []byte{0x82, 0xff, 0, 0}),
			frames: []wsflv.Frame{ctl(wsflv.OpPing, "")}},
		{name: "partial binary payload", wire: masked(0x82, bin(300))[:100]},

		// Hostile streams.
		{name: "continuation without a start", wire: masked(0x80, []byte("x")), err: wsflv.ErrFragmentation},
		{name: "text inside a fragmented message", wire: cat(masked(0x01, []byte("a")), masked(0x81, []byte("b"))),
			frames: []wsflv.Frame{data(false, wsflv.OpText, 1)}, err: wsflv.ErrFragmentation},
		{name: "continuation after the final fragment", wire: cat(masked(0x02, nil), masked(0x80, nil), masked(0x80, nil)),
			frames: []wsflv.Frame{data(false, wsflv.OpBinary, 0), data(true, wsflv.OpContinuation, 0)}, err: wsflv.ErrFragmentation},
		{name: "error is sticky", wire: cat(masked(0x89, []byte("ok")), clientFrame(0x89, false, 0, 0, nil), masked(0x89, nil)),
			frames: []wsflv.Frame{ctl(wsflv.OpPing, "ok")}, err: wsflv.ErrUnmasked},
		{name: "ping 126 bytes", wire: clientFrame(0x89, true, 126, 2, bin(126)), err: wsflv.ErrControlTooLarge},
		{name: "fragmented ping", wire: masked(0x09, nil), err: wsflv.ErrFragmentedCtrl},
		{name: "reserved opcode", wire: cat(masked(0x89, nil), masked(0x83, nil)),
			frames: []wsflv.Frame{ctl(wsflv.OpPing, "")}, err: wsflv.ErrBadOpcode},
		{name: "RSV1 (permessage-deflate) set", wire: masked(0xC1, []byte("x")), err: wsflv.ErrReservedBits},
		{name: "binary over MaxClientFrame", wire: clientFrame(0x82, true, wsflv.MaxClientFrame+1, 2, nil), err: wsflv.ErrFrameTooLarge},
		{name: "64-bit length with MSB set", wire: clientFrame(0x82, true, 1<<63, 8, nil), err: wsflv.ErrFrameTooLarge},
	}
}

// closeCase is a close frame payload and what ReadClose makes of it.
type readCloseCase struct {
	name    string
	payload string
	code    uint16
	reason  string
	err     error
}

var readCloseCases = []readCloseCase{
	{name: "empty", payload: "", code: wsflv.CloseNoStatus},
	{name: "1000", payload: closePayload(1000, ""), code: 1000},
	{name: "1001 with reason", payload: closePayload(1001, "tab closed"), code: 1001, reason: "tab closed"},
	{name: "4404 UTF-8 reason", payload: closePayload(4404, "ébène"), code: 4404, reason: "ébène"},
	{name: "one byte", payload: "\x03", err: wsflv.ErrBadClose},
	{name: "reserved 1005", payload: closePayload(1005, ""), err: wsflv.ErrBadClose},
	{name: "reserved 1006", payload: closePayload(1006, ""), err: wsflv.ErrBadClose},
	{name: "unused 999", payload: closePayload(999, ""), err: wsflv.ErrBadClose},
	{name: "private 5000", payload: closePayload(5000, ""), err: wsflv.ErrBadClose},
	{name: "reason not UTF-8", payload: closePayload(1000, "\xff\xfe"), err: wsflv.ErrBadClose},
	{name: "reason cut inside a rune", payload: closePayload(1000, "\xc3"), err: wsflv.ErrBadClose},
}
