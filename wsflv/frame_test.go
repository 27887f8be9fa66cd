package wsflv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quaverlive/quaver/wsflv"
)

func TestReadFrameHeader(t *testing.T) {
	for _, c := range frameCases() {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := wsflv.ReadFrameHeader(c.wire)
			if c.err != nil {
				if !errors.Is(err, c.err) || n != 0 {
					t.Fatalf("got n=%d err=%v, want %v", n, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n != c.n {
				t.Fatalf("n = %d, want %d", n, c.n)
			}
			if n > 0 && h != c.want {
				t.Fatalf("header %+v, want %+v", h, c.want)
			}
		})
	}
}

// TestReadFrameHeaderSplit checks that every prefix shorter than the header
// needs more bytes (or fails like the whole input) and that longer prefixes
// give the same header.
func TestReadFrameHeaderSplit(t *testing.T) {
	for _, c := range frameCases() {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := wsflv.ReadFrameHeader(c.wire)
			for k := range len(c.wire) + 1 {
				ph, pn, perr := wsflv.ReadFrameHeader(c.wire[:k])
				if s := splitFrameMismatch(h, n, err, ph, pn, perr, k); s != "" {
					t.Fatalf("prefix of %d bytes: %s", k, s)
				}
			}
		})
	}
}

// splitFrameMismatch compares the result for a k-byte prefix with the result
// for the whole input.
func splitFrameMismatch(h wsflv.FrameHeader, n int, err error, ph wsflv.FrameHeader, pn int, perr error, k int) string {
	switch {
	case pn > k:
		return "n beyond the input"
	case err != nil:
		if perr != nil && !errors.Is(perr, err) {
			return "error " + perr.Error() + ", whole input gives " + err.Error()
		}
		if perr == nil && pn != 0 {
			return "n = " + itoa(pn) + ", whole input fails with " + err.Error()
		}
	case n == 0 || k < n:
		if pn != 0 || perr != nil {
			return "got n=" + itoa(pn) + " err=" + errString(perr) + ", want 0, nil"
		}
	default:
		if pn != n || perr != nil || ph != h {
			return "got n=" + itoa(pn) + " err=" + errString(perr) + ", whole input gives n=" + itoa(n)
		}
	}
	return ""
}

// TestFrameRoundTrip re-encodes every accepted client header in the server's
// (unmasked) form and in the client's (masked) form and reads both back.
func TestFrameRoundTrip(t *testing.T) {
	for _, c := range frameCases() {
		if c.err != nil || c.n == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			h, _, _ := wsflv.ReadFrameHeader(c.wire)
			checkRoundTrip(t, h)
		})
	}
}

func checkRoundTrip(t *testing.T, h wsflv.FrameHeader) {
	t.Helper()
	srv := wsflv.AppendFrameHeader(nil, h.Fin, h.Opcode, h.Length)
	sh, sn := readServerFrameHeader(srv)
	if sn != len(srv) || sh.fin != h.Fin || sh.opcode != h.Opcode || sh.rsv != 0 || sh.masked || sh.length != uint64(h.Length) {
		t.Fatalf("server form % x reads back as %+v (n=%d), want %+v", srv, sh, sn, h)
	}
	cli := maskedHeader(h)
	ch, cn, err := wsflv.ReadFrameHeader(cli)
	if err != nil || cn != len(cli) || ch != h {
		t.Fatalf("client form % x reads back as %+v n=%d err=%v, want %+v", cli, ch, cn, err, h)
	}
}

// maskedHeader encodes h as a client would, in the minimal length encoding.
func maskedHeader(h wsflv.FrameHeader) []byte {
	b := wsflv.AppendFrameHeader(nil, h.Fin, h.Opcode, h.Length)
	b[1] |= 0x80
	return append(b, h.Mask[:]...)
}

func TestAppendFrameHeader(t *testing.T) {
	for _, c := range encodeCases {
		dst := []byte("xy")
		got := wsflv.AppendFrameHeader(dst, c.fin, c.opcode, c.n)
		if !bytes.Equal(got[:2], []byte("xy")) || !bytes.Equal(got[2:], c.want) {
			t.Errorf("AppendFrameHeader(fin=%v, op=%#x, %d) = % x, want xy + % x", c.fin, c.opcode, c.n, got, c.want)
			continue
		}
		h, n := readServerFrameHeader(got[2:])
		if n != len(c.want) || h.length != uint64(c.n) || h.fin != c.fin || h.opcode != c.opcode || h.masked {
			t.Errorf("length %d: reads back as %+v n=%d", c.n, h, n)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{0xA5}, size)
		got := wsflv.AppendFrame([]byte("p"), wsflv.OpBinary, payload)
		h, n := readServerFrameHeader(got[1:])
		if got[0] != 'p' || n == 0 || !h.fin || h.opcode != wsflv.OpBinary || h.length != uint64(size) ||
			!bytes.Equal(got[1+n:], payload) {
			t.Errorf("AppendFrame of %d bytes: header %+v n=%d, %d payload bytes", size, h, n, len(got)-1-n)
		}
	}
}

// closeCase is a close frame AppendClose must produce.
type closeCase struct {
	name   string
	code   uint16
	reason string
	want   []byte
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("r", 200)
	cases := []closeCase{
		{"normal without reason", wsflv.CloseNormal, "", []byte{0x88, 2, 0x03, 0xe8}},
		{"not found with reason", wsflv.CloseNotFound, "no such stream",
			append([]byte{0x88, 16, 0x11, 0x34}, "no such stream"...)},
		{"policy", wsflv.ClosePolicy, "nope", append([]byte{0x88, 6, 0x03, 0xf0}, "nope"...)},
		{"reason of exactly 123 bytes", wsflv.CloseProtocolError, long[:123], append([]byte{0x88, 125, 0x03, 0xea}, long[:123]...)},
		{"long reason truncated", wsflv.CloseProtocolError, long, append([]byte{0x88, 125, 0x03, 0xea}, long[:123]...)},
	}
	for _, c := range cases {
		got := wsflv.AppendClose([]byte("z"), c.code, c.reason)
		if got[0] != 'z' || !bytes.Equal(got[1:], c.want) {
			t.Errorf("%s: % x, want z + % x", c.name, got, c.want)
			continue
		}
		h, n := readServerFrameHeader(got[1:])
		if !h.fin || h.opcode != wsflv.OpClose || h.length > wsflv.MaxControlPayload || n+int(h.length) != len(c.want) {
			t.Errorf("%s: header %+v", c.name, h)
		}
		if code := binary.BigEndian.Uint16(got[1+n:]); code != c.code {
			t.Errorf("%s: code %d", c.name, code)
		}
	}
}

// TestAppendCloseUTF8 checks that a truncated reason stays valid UTF-8: RFC
// 6455 section 8.1 makes a browser fail the connection (code 1006, reason
// lost) on a close reason that is not.
func TestAppendCloseUTF8(t *testing.T) {
	reason := strings.Repeat("é", 100) // 200 bytes, cut inside a rune at 123
	got := wsflv.AppendClose(nil, wsflv.ClosePolicy, reason)
	h, n := readServerFrameHeader(got)
	if h.length > wsflv.MaxControlPayload {
		t.Fatalf("close payload %d bytes", h.length)
	}
	if body := got[n+2:]; !utf8.Valid(body) {
		t.Fatalf("AppendClose truncated the reason at %d bytes inside a UTF-8 sequence (last bytes % x)",
			len(body), body[len(body)-2:])
	}
}

func TestUnmask(t *testing.T) {
	// RFC 6455 section 5.7.
	payload := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	p := bytes.Clone(payload)
	wsflv.Unmask(p, key, 0)
	if string(p) != "Hello" {
		t.Fatalf("unmasked %q, want Hello", p)
	}
	// In pieces, at any offset, the result is the same.
	for split := range len(payload) + 1 {
		q := bytes.Clone(payload)
		wsflv.Unmask(q[:split], key, 0)
		wsflv.Unmask(q[split:], key, split)
		if string(q) != "Hello" {
			t.Fatalf("split at %d: %q", split, q)
		}
	}
	// Masking twice is the identity, for lengths around the word size.
	for size := range 40 {
		orig := make([]byte, size)
		for i := range orig {
			orig[i] = byte(i * 7)
		}
		q := bytes.Clone(orig)
		wsflv.Unmask(q, key, 3)
		wsflv.Unmask(q, key, 3)
		if !bytes.Equal(q, orig) {
			t.Fatalf("size %d: twice-masked differs", size)
		}
	}
}
