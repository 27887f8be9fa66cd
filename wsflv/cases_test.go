package wsflv_test

// The case tables for the two decoders of this package. They drive the decode
// tests, the encode and round-trip tests, the split-invariance tests, the fuzz
// seeds and the benchmarks.

import (
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
			path: "/live/cam.flv", query: "token=abc", proto: "HTTP/1.1", headers: browserHeaders},
		{name: "no headers HTTP/1.0", wire: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", path: "/", proto: "HTTP/1.0"},
		{name: "curl HTTP-FLV", wire: "GET /live/cam.flv HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
			method: "GET", target: "/live/cam.flv", path: "/live/cam.flv", proto: "HTTP/1.1",
			headers: [][2]string{{"Host", "localhost:8080"}, {"User-Agent", "curl/8.5.0"}, {"Accept", "*/*"}}},
		{name: "empty query", wire: "GET /a? HTTP/1.1\r\n\r\n", method: "GET", target: "/a?", path: "/a", proto: "HTTP/1.1"},
		{name: "query with second question mark", wire: "GET /a?x=1?y HTTP/1.1\r\n\r\n", method: "GET", target: "/a?x=1?y",
			path: "/a", query: "x=1?y", proto: "HTTP/1.1"},
		{name: "OPTIONS preflight", wire: "OPTIONS /live/a.flv HTTP/1.1\r\nOrigin: http://x\r\nAccess-Control-Request-Method: GET\r\n\r\n",
			method: "OPTIONS", target: "/live/a.flv", path: "/live/a.flv", proto: "HTTP/1.1",
			headers: [][2]string{{"Origin", "http://x"}, {"Access-Control-Request-Method", "GET"}}},
		{name: "absolute-form target", wire: "GET http://h/live/a.flv HTTP/1.1\r\n\r\n", method: "GET",
			target: "http://h/live/a.flv", path: "http://h/live/a.flv", proto: "HTTP/1.1"},
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
			method: "GET", target: "/", path: "/", proto: "HTTP/1.1", headers: [][2]string{{"Host", "h"}}},
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
			method: "GET", target: "/", path: "/", proto: "HTTP/1.1", headers: [][2]string{{"Host", "a"}, {"X-Smuggled", "b"}}},
		{name: "bare LF inside the request line", wire: "GET /a\nb HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "bare CR inside a value", wire: "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "whitespace before colon", wire: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", err: wsflv.ErrBadRequest},
		{name: "space inside the target", wire: "GET /a b HTTP/1.1\r\n\r\n", err: wsflv.ErrBadRequest},
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
