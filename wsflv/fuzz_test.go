package wsflv_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gobwas/ws"
	"github.com/quaverlive/quaver/wsflv"
)

// FuzzReadRequest checks ReadRequest on arbitrary bytes: no panic, n within
// the input and the head limit, every returned slice aliasing the head, and
// split invariance (prefixes need more bytes or fail the same way).
func FuzzReadRequest(f *testing.F) {
	for _, c := range requestCases() {
		f.Add([]byte(c.wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r wsflv.Request
		n, err := wsflv.ReadRequest(data, &r)
		if n < 0 || n > len(data) || n > wsflv.MaxRequestHeadSize {
			t.Fatalf("n = %d for %d bytes", n, len(data))
		}
		if err != nil && n != 0 {
			t.Fatalf("n = %d with error %v", n, err)
		}
		if n > 0 {
			if !bytes.Equal(r.Head, data[:n]) || !(bytes.HasSuffix(r.Head, []byte("\n\r\n")) || bytes.HasSuffix(r.Head, []byte("\n\n"))) {
				t.Fatalf("Head %q is not the first %d bytes ending in an empty line", r.Head, n)
			}
			if s := requestAliases(&r, data[:n]); s != "" {
				t.Fatal(s)
			}
			if len(r.Headers()) > wsflv.MaxHeaders {
				t.Fatalf("%d header fields", len(r.Headers()))
			}
		}
		// Split invariance: every prefix of short inputs, a sample of the
		// prefixes of long ones (keeps each run cheap for the minimizer).
		step := 1
		if len(data) > 256 {
			step = len(data) / 32
		}
		check := func(k int) {
			var pr wsflv.Request
			pn, perr := wsflv.ReadRequest(data[:k], &pr)
			if s := splitRequestMismatch(n, err, pn, perr, k, &r, &pr); s != "" {
				t.Fatalf("prefix of %d bytes: %s", k, s)
			}
		}
		for k := 0; k < len(data); k += step {
			check(k)
		}
		if n > 0 {
			check(n - 1)
			check(n)
		}
	})
}

// FuzzReadFrameHeader checks ReadFrameHeader on arbitrary bytes: no panic,
// split invariance, agreement with gobwas/ws's header reader, and a round
// trip through AppendFrameHeader (the server's unmasked form, read back by
// an independent reader) and through the masked client form.
func FuzzReadFrameHeader(f *testing.F) {
	for _, c := range frameCases() {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, n, err := wsflv.ReadFrameHeader(data)
		switch {
		case n < 0 || n > len(data) || n > wsflv.MaxFrameHeader:
			t.Fatalf("n = %d for %d bytes", n, len(data))
		case err != nil && n != 0:
			t.Fatalf("n = %d with error %v", n, err)
		}
		for k := range min(len(data), wsflv.MaxFrameHeader+1) {
			ph, pn, perr := wsflv.ReadFrameHeader(data[:k])
			if s := splitFrameMismatch(h, n, err, ph, pn, perr, k); s != "" {
				t.Fatalf("prefix of %d bytes: %s", k, s)
			}
		}

		// Differential: gobwas/ws reads the raw header without policy.
		gh, gerr := ws.ReadHeader(bytes.NewReader(data))
		switch {
		case n > 0:
			if gerr != nil {
				t.Fatalf("accepted % x; gobwas: %v", data[:n], gerr)
			}
			if gh.Fin != h.Fin || byte(gh.OpCode) != h.Opcode || gh.Masked != h.Masked || gh.Mask != h.Mask ||
				gh.Length != int64(h.Length) || wireHeaderSize(data) != n {
				t.Fatalf("header %+v n=%d; gobwas %+v size %d", h, n, gh, wireHeaderSize(data))
			}
			if !acceptable(gh) {
				t.Fatalf("accepted % x which breaks the client frame rules", data[:n])
			}
		case err != nil:
			if gerr == nil && acceptable(gh) {
				t.Fatalf("rejected % x (%v) though it follows the client frame rules: %+v", data, err, gh)
			}
		default: // need more
			if gerr == nil || !(errors.Is(gerr, io.EOF) || errors.Is(gerr, io.ErrUnexpectedEOF)) {
				t.Fatalf("need more bytes for % x; gobwas: %+v, %v", data, gh, gerr)
			}
		}

		if n > 0 {
			checkRoundTrip(t, h)
		}
	})
}

// acceptable states the client frame rules independently of the codec.
func acceptable(h ws.Header) bool {
	if h.Rsv != 0 || !h.Masked {
		return false
	}
	switch h.OpCode {
	case ws.OpContinuation, ws.OpText, ws.OpBinary:
		return h.Length <= wsflv.MaxClientFrame
	case ws.OpClose, ws.OpPing, ws.OpPong:
		return h.Fin && h.Length <= wsflv.MaxControlPayload
	}
	return false
}

// wireHeaderSize is the size of the header at the start of b as encoded
// (which need not be the minimal encoding).
func wireHeaderSize(b []byte) int {
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// FuzzFrameDecoder checks FrameDecoder on arbitrary bytes: no panic; Feed's
// contract (progress, n within the input, sticky errors); bounded memory
// (control payloads within the decoder's own buffer, never over
// MaxControlPayload; data payloads never held); split invariance (whole, a
// byte at a time and random splits drawn from seed give the same frames and
// error); and agreement with a reference built on gobwas/ws's header reader
// and the client frame rules stated independently (acceptable).
func FuzzFrameDecoder(f *testing.F) {
	for i, c := range streamCases() {
		f.Add(c.wire, uint64(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		frames, err := feedAll(t, data, whole)
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		for _, split := range []struct {
			how  string
			next func(int) int
		}{
			{"a byte at a time", oneByte},
			{"random splits", func(left int) int { return 1 + rng.IntN(min(left, 64)) }},
		} {
			sf, serr := feedAll(t, data, split.next)
			if d := framesMismatch(sf, frames); d != "" || serr != err {
				t.Fatalf("%s: %s, error %v; whole: %d frames, error %v", split.how, d, serr, len(frames), err)
			}
		}

		ref, outcome := refDecode(data)
		if d := framesMismatch(frames, ref); d != "" {
			t.Fatalf("reference: %s", d)
		}
		switch {
		case outcome == refError && err == nil:
			t.Fatalf("no error; the reference finds a protocol error after %d frames", len(ref))
		case outcome == refComplete && err != nil:
			t.Fatalf("error %v; the reference finds none", err)
		}
	})
}

// Outcomes of refDecode.
const (
	refComplete      = iota // all frames read; the last may lack payload bytes
	refError                // a frame breaks the client frame rules
	refPartialHeader        // the input ends inside a header: the decoder may already know it is bad
)

// refDecode is a non-streaming client frame reader: gobwas/ws reads each
// header, acceptable states the header rules, the fragmentation sequence
// follows RFC 6455 section 5.4, and ws.Cipher unmasks control payloads.
func refDecode(data []byte) ([]wsflv.Frame, int) {
	var frames []wsflv.Frame
	r := bytes.NewReader(data)
	fragmented := false
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return frames, refPartialHeader
		case err != nil, !acceptable(h):
			return frames, refError
		}
		switch h.OpCode {
		case ws.OpContinuation, ws.OpText, ws.OpBinary:
			if fragmented != (h.OpCode == ws.OpContinuation) {
				return frames, refError
			}
			fragmented = !h.Fin
		}
		if int64(r.Len()) < h.Length {
			return frames, refComplete
		}
		payload := make([]byte, h.Length)
		_, _ = io.ReadFull(r, payload)
		fr := wsflv.Frame{Fin: h.Fin, Opcode: byte(h.OpCode), Length: int(h.Length)}
		if h.OpCode.IsControl() {
			ws.Cipher(payload, h.Mask, 0)
			fr.Payload = payload
		}
		frames = append(frames, fr)
	}
	return frames, refComplete
}
