package chunkcodec

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"
)

// Deterministic inputs shared by the case table, the fuzz targets and the
// benchmarks: with these seeds the server's S1 is the same in every run, so
// a C2 built for it matches.
const (
	testServerEpoch = 0x01020304
	testClientEpoch = 0x0a0b0c0d
	testServerSeed  = 7
	testClientSeed  = 11
)

// detRand is a deterministic, non-allocating random source (xorshift64).
type detRand struct{ s uint64 }

func newDetRand(seed uint64) *detRand { return &detRand{s: seed*0x9e3779b97f4a7c15 | 1} }

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		r.s ^= r.s << 13
		r.s ^= r.s >> 7
		r.s ^= r.s << 17
		p[i] = byte(r.s >> 32)
	}
	return len(p), nil
}

// failRand is a random source that always fails.
type failRand struct{}

var errTestRand = errors.New("test: random source failed")

func (failRand) Read([]byte) (int, error) { return 0, errTestRand }

// failAfterRand yields n deterministic bytes, then fails.
type failAfterRand struct{ n int }

func (r *failAfterRand) Read(p []byte) (int, error) {
	if len(p) > r.n {
		return 0, errTestRand
	}
	r.n -= len(p)
	return len(p), nil
}

func testServer() *ServerHandshake {
	return &ServerHandshake{Epoch: testServerEpoch, Rand: newDetRand(testServerSeed)}
}

func testClient(digest bool, scheme DigestScheme, version [4]byte) *ClientHandshake {
	return &ClientHandshake{
		Epoch:        testClientEpoch,
		Rand:         newDetRand(testClientSeed),
		Digest:       digest,
		Scheme:       scheme,
		FlashVersion: version,
	}
}

// pairWire runs c against testServer in memory and returns the client's
// C0+C1 and C2 and the server's S0+S1+S2.
func pairWire(c *ClientHandshake) (c0c1, c2, s0s1s2 []byte) {
	s := testServer()
	c0c1 = c.Start(nil)
	_, s0s1s2, _, err := s.Feed(c0c1, nil)
	if err != nil {
		panic(err)
	}
	_, c2, done, err := c.Feed(s0s1s2, nil)
	if err != nil || !done {
		panic(fmt.Sprint("pairWire: ", done, err))
	}
	return c0c1, c2, s0s1s2
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// serverCase is one row of the handshake case table: the bytes a client
// sends and what ServerHandshake must make of them (fed to a testServer).
type serverCase struct {
	name   string
	wire   []byte       // C0+C1[+C2][+chunk stream bytes]
	n      int          // bytes consumed
	done   bool         // C2 consumed
	scheme DigestScheme // Scheme() once the reply is out
	c2OK   bool
	err    error
}

var serverCases = sync.OnceValue(func() []serverCase {
	simpleC1, simpleC2, _ := pairWire(testClient(false, NoDigest, [4]byte{}))
	d1C1, d1C2, d1S := pairWire(testClient(true, NoDigest, [4]byte{}))
	d0C1, d0C2, _ := pairWire(testClient(true, DigestScheme0, [4]byte{}))
	vC1, vC2, _ := pairWire(testClient(true, DigestScheme1, [4]byte{11, 2, 202, 235}))

	// A C1 whose version field is set but whose body is junk.
	junk := make([]byte, 1+HandshakeSize)
	junk[0] = RTMPVersion
	_, _ = newDetRand(3).Read(junk[1:])
	copy(junk[1+4:], []byte{9, 0, 124, 2})
	zeros := make([]byte, HandshakeSize)
	chunk := []byte{0x03, 0, 0, 0, 0, 0, 0x20, 0x14, 0, 0, 0, 0}

	return []serverCase{
		{name: "simple", wire: cat(simpleC1, simpleC2), n: HandshakeWireSize, done: true, c2OK: true},
		{name: "digest scheme 1", wire: cat(d1C1, d1C2), n: HandshakeWireSize, done: true, scheme: DigestScheme1, c2OK: true},
		{name: "digest scheme 0", wire: cat(d0C1, d0C2), n: HandshakeWireSize, done: true, scheme: DigestScheme0, c2OK: true},
		{name: "digest flash 11.2", wire: cat(vC1, vC2), n: HandshakeWireSize, done: true, scheme: DigestScheme1, c2OK: true},
		{name: "digest C1, C2 echoes S1", wire: cat(d1C1, d1S[1:1+HandshakeSize]), n: HandshakeWireSize, done: true, scheme: DigestScheme1, c2OK: true},
		{name: "simple, C2 zeros", wire: cat(simpleC1, zeros), n: HandshakeWireSize, done: true},
		{name: "digest, C2 zeros", wire: cat(d1C1, zeros), n: HandshakeWireSize, done: true, scheme: DigestScheme1},
		{name: "junk C1 with version field", wire: cat(junk, zeros), n: HandshakeWireSize, done: true},
		{name: "chunk bytes after C2", wire: cat(simpleC1, simpleC2, chunk), n: HandshakeWireSize, done: true, c2OK: true},
		{name: "C0+C1 only", wire: simpleC1, n: 1 + HandshakeSize},
		{name: "C0+C1+part of C2", wire: cat(d1C1, d1C2[:100]), n: 1 + HandshakeSize + 100, scheme: DigestScheme1},
		{name: "C0 only", wire: []byte{RTMPVersion}, n: 1},
		{name: "empty"},
		{name: "version 6 (RTMPE)", wire: cat([]byte{6}, simpleC1[1:]), n: 1, err: ErrBadVersion},
		{name: "version 0", wire: []byte{0}, n: 1, err: ErrBadVersion},
		{name: "version 31", wire: cat([]byte{31}, zeros), n: 1, err: ErrBadVersion},
	}
})

// serverResult is everything observable from feeding wire to a server.
type serverResult struct {
	n      int
	reply  []byte
	done   bool
	err    error
	scheme DigestScheme
	c2OK   bool
	bad    string // contract violation seen while feeding
}

func (r serverResult) equal(o serverResult) bool {
	return r.n == o.n && bytes.Equal(r.reply, o.reply) && r.done == o.done &&
		fmt.Sprint(r.err) == fmt.Sprint(o.err) && r.scheme == o.scheme && r.c2OK == o.c2OK && r.bad == o.bad
}

// feedServer feeds wire to h in pieces whose sizes next chooses (1..rest).
// base is the number of bytes h consumed before.
func feedServer(h *ServerHandshake, base int, wire []byte, next func(rest int) int) serverResult {
	var r serverResult
	rest := wire
	for len(rest) > 0 {
		k := next(len(rest))
		n, reply, done, err := h.Feed(rest[:k], r.reply)
		r.reply = reply
		r.n += n
		switch {
		case n < 0 || n > k:
			r.bad = fmt.Sprintf("n=%d for %d bytes", n, k)
		case err != nil:
			r.err = err
		case done:
			r.done = true
		case n < k:
			r.bad = fmt.Sprintf("consumed %d of %d without done or error", n, k)
		}
		if r.bad != "" || r.err != nil || r.done {
			break
		}
		rest = rest[n:]
	}
	r.scheme, r.c2OK = h.Scheme(), h.C2OK()
	if total := base + r.n; total > HandshakeWireSize || (r.done && total != HandshakeWireSize) {
		r.bad = fmt.Sprintf("consumed %d bytes in all, done=%v", total, r.done)
	}
	return r
}

func whole(rest int) int { return rest }
func oneByte(int) int    { return 1 }

func randomSplits(seed uint64) func(int) int {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	return func(rest int) int {
		switch rng.IntN(4) {
		case 0:
			return 1 + rng.IntN(min(rest, 8))
		case 1:
			return rest
		default:
			return 1 + rng.IntN(rest)
		}
	}
}

// cutSplits splits total bytes at up to three cut points taken from the 16-bit
// fields of seed. The fuzz targets use it: few pieces keep the coverage from
// depending on how many Feed calls a split makes, which would otherwise
// flood the fuzzer with "new" inputs to minimize.
func cutSplits(seed uint64, total int) func(int) int {
	var cuts [3]int
	for i := range cuts {
		cuts[i] = int(seed>>(16*i)&0xffff) % (total + 1)
	}
	slices.Sort(cuts[:])
	pos := 0
	return func(rest int) int {
		for _, c := range cuts {
			if c > pos {
				k := c - pos
				pos = c
				return k
			}
		}
		pos += rest
		return rest
	}
}

// Reference digest-handshake checks, written against crypto/hmac.

func refHMAC(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// refDigestAt returns the digest offset of a packet for a digest block at
// base (8 or 772) and whether the digest there verifies under key.
func refDigestAt(pkt []byte, base int, key []byte) (int, bool) {
	off := base + 4 + (int(pkt[base])+int(pkt[base+1])+int(pkt[base+2])+int(pkt[base+3]))%728
	want := refHMAC(key, pkt[:off], pkt[off+32:])
	return off, bytes.Equal(want, pkt[off:off+32])
}

var (
	refFPKey  = []byte("Genuine Adobe Flash Player 001\xf0\xee\xc2\x4a\x80\x68\xbe\xe8\x2e\x00\xd0\xd1\x02\x9e\x7e\x57\x6e\xec\x5d\x2d\x29\x80\x6f\xab\x93\xb8\xe6\x36\xcf\xeb\x31\xae")
	refFMSKey = []byte("Genuine Adobe Flash Media Server 001\xf0\xee\xc2\x4a\x80\x68\xbe\xe8\x2e\x00\xd0\xd1\x02\x9e\x7e\x57\x6e\xec\x5d\x2d\x29\x80\x6f\xab\x93\xb8\xe6\x36\xcf\xeb\x31\xae")
)

func schemeBase(s DigestScheme) int {
	if s == DigestScheme0 {
		return 772
	}
	return 8
}

// checkServerReply checks S0+S1+S2 against C1 independently of the code
// under test.
func checkServerReply(t *testing.T, c1, reply []byte, scheme DigestScheme) {
	t.Helper()
	if len(reply) != HandshakeWireSize {
		t.Fatalf("reply is %d bytes, want %d", len(reply), HandshakeWireSize)
	}
	s0, s1, s2 := reply[0], reply[1:1+HandshakeSize], reply[1+HandshakeSize:]
	if s0 != RTMPVersion {
		t.Errorf("S0 = %d", s0)
	}
	if got := binary.BigEndian.Uint32(s1); got != testServerEpoch {
		t.Errorf("S1 time = %#x, want %#x", got, testServerEpoch)
	}
	version := binary.BigEndian.Uint32(s1[4:8])
	if scheme == NoDigest {
		if version != 0 {
			t.Errorf("simple S1 version field = %#x, want 0", version)
		}
		if !bytes.Equal(s2, c1) {
			t.Errorf("simple S2 is not an echo of C1")
		}
		return
	}
	if s1[4] < 3 {
		t.Errorf("digest S1 version field = %#x, want first byte >= 3 (ffmpeg checks it)", version)
	}
	if _, ok := refDigestAt(s1, schemeBase(scheme), refFMSKey[:36]); !ok {
		t.Errorf("S1 digest does not verify in %v", scheme)
	}
	cOff, ok := refDigestAt(c1, schemeBase(scheme), refFPKey[:30])
	if !ok {
		t.Fatalf("test bug: C1 digest does not verify in %v", scheme)
	}
	sig := refHMAC(refHMAC(refFMSKey, c1[cOff:cOff+32]), s2[:1504])
	if !bytes.Equal(sig, s2[1504:]) {
		t.Errorf("S2 signature does not verify")
	}
}

func TestServerHandshake(t *testing.T) {
	for _, tc := range serverCases() {
		t.Run(tc.name, func(t *testing.T) {
			h := testServer()
			got := feedServer(h, 0, tc.wire, whole)
			if got.bad != "" {
				t.Fatal(got.bad)
			}
			if !errors.Is(got.err, tc.err) || (tc.err == nil) != (got.err == nil) {
				t.Fatalf("err = %v, want %v", got.err, tc.err)
			}
			if got.n != tc.n || got.done != tc.done {
				t.Fatalf("n, done = %d, %v; want %d, %v", got.n, got.done, tc.n, tc.done)
			}
			if got.err != nil || len(tc.wire) < 1+HandshakeSize {
				if len(got.reply) != 0 {
					t.Fatalf("reply of %d bytes before C1 was complete", len(got.reply))
				}
			} else {
				if got.scheme != tc.scheme || h.Complex() != (tc.scheme != NoDigest) {
					t.Errorf("Scheme, Complex = %v, %v; want %v", got.scheme, h.Complex(), tc.scheme)
				}
				checkServerReply(t, tc.wire[1:1+HandshakeSize], got.reply, tc.scheme)
			}
			if got.c2OK != tc.c2OK {
				t.Errorf("C2OK = %v, want %v", got.c2OK, tc.c2OK)
			}

			// Errors and completion are sticky.
			n, reply, done, err := h.Feed([]byte{RTMPVersion}, nil)
			switch {
			case tc.err != nil:
				if n != 0 || reply != nil || !errors.Is(err, tc.err) {
					t.Errorf("after error: Feed = %d, %d bytes, %v, %v", n, len(reply), done, err)
				}
			case tc.done:
				if n != 0 || reply != nil || !done || !errors.Is(err, ErrHandshakeDone) {
					t.Errorf("after done: Feed = %d, %d bytes, %v, %v", n, len(reply), done, err)
				}
			}

			// Split invariance.
			splits := map[string]func(int) int{"one byte": oneByte}
			for seed := range uint64(16) {
				splits[fmt.Sprint("random ", seed)] = randomSplits(seed)
			}
			for name, next := range splits {
				if split := feedServer(testServer(), 0, tc.wire, next); !split.equal(got) {
					t.Errorf("%s: split result %+v differs from whole %+v", name, brief(split), brief(got))
				}
			}

			// Reset gives the same result again.
			h.Reset()
			h.Rand = newDetRand(testServerSeed)
			if again := feedServer(h, 0, tc.wire, whole); !again.equal(got) {
				t.Errorf("after Reset: %+v, want %+v", brief(again), brief(got))
			}
		})
	}
}

// brief drops the reply bytes from a result, for messages.
func brief(r serverResult) serverResult {
	r.reply = r.reply[:0:0]
	return r
}

func TestServerHandshakeAppendsToOut(t *testing.T) {
	tc := serverCases()[1]
	prefix := []byte("prefix")
	for _, out := range [][]byte{prefix, append(make([]byte, 0, 8000), prefix...)} {
		h := testServer()
		_, reply, _, err := h.Feed(tc.wire, out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(reply, prefix) || len(reply) != len(prefix)+HandshakeWireSize {
			t.Fatalf("reply does not extend out: %d bytes", len(reply))
		}
		checkServerReply(t, tc.wire[1:1+HandshakeSize], reply[len(prefix):], DigestScheme1)
	}
}

func TestServerHandshakeRandError(t *testing.T) {
	for _, tc := range serverCases()[:2] {
		h := &ServerHandshake{Rand: failRand{}}
		n, reply, done, err := h.Feed(tc.wire, []byte("x"))
		if !errors.Is(err, errTestRand) || done || string(reply) != "x" || n != 1+HandshakeSize {
			t.Errorf("%s: Feed = %d, %q, %v, %v", tc.name, n, reply, done, err)
		}
		if _, _, _, err2 := h.Feed(tc.wire, nil); err2 != err {
			t.Errorf("%s: error not sticky: %v", tc.name, err2)
		}
	}
}

// TestHandshakeRandErrorOnReply fails the random source when the digest
// S2 or C2 is built, after S1 or C1 succeeded.
func TestHandshakeRandErrorOnReply(t *testing.T) {
	tc := serverCases()[1]
	s := &ServerHandshake{Rand: &failAfterRand{n: HandshakeSize - 8}}
	if n, reply, _, err := s.Feed(tc.wire, []byte("x")); !errors.Is(err, errTestRand) || string(reply) != "x" || n != 1+HandshakeSize {
		t.Errorf("server: Feed = %d, %d bytes, %v", n, len(reply), err)
	}

	_, _, s0s1s2 := pairWire(testClient(true, DigestScheme1, [4]byte{}))
	c := testClient(true, DigestScheme1, [4]byte{})
	c.Rand = &failAfterRand{n: HandshakeSize - 8}
	c.Start(nil)
	if n, reply, done, err := c.Feed(s0s1s2, []byte("x")); !errors.Is(err, errTestRand) || string(reply) != "x" || done || n != HandshakeWireSize {
		t.Errorf("client: Feed = %d, %d bytes, %v, %v", n, len(reply), done, err)
	}
	if _, _, _, err := c.Feed(s0s1s2, nil); !errors.Is(err, errTestRand) {
		t.Errorf("client: error not sticky: %v", err)
	}
}

func TestServerHandshakeCryptoRand(t *testing.T) {
	c := testClient(true, DigestScheme1, [4]byte{})
	s := &ServerHandshake{Epoch: testServerEpoch}
	c0c1 := c.Start(nil)
	_, reply, _, err := s.Feed(c0c1, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkServerReply(t, c0c1[1:], reply, DigestScheme1)
	_, c2, done, err := c.Feed(reply, nil)
	if err != nil || !done || !c.ServerDigestOK() {
		t.Fatalf("client: done=%v err=%v digestOK=%v", done, err, c.ServerDigestOK())
	}
	if _, _, done, err := s.Feed(c2, nil); err != nil || !done || !s.C2OK() {
		t.Fatalf("server: done=%v err=%v C2OK=%v", done, err, s.C2OK())
	}
}

// clientResult is everything observable from feeding server bytes to a
// client.
type clientResult struct {
	n        int
	reply    []byte
	done     bool
	err      error
	digestOK bool
	s2OK     bool
	bad      string
}

func (r clientResult) equal(o clientResult) bool {
	return r.n == o.n && bytes.Equal(r.reply, o.reply) && r.done == o.done &&
		fmt.Sprint(r.err) == fmt.Sprint(o.err) && r.digestOK == o.digestOK && r.s2OK == o.s2OK && r.bad == o.bad
}

func feedClient(h *ClientHandshake, wire []byte, next func(int) int) clientResult {
	var r clientResult
	rest := wire
	for len(rest) > 0 {
		k := next(len(rest))
		n, reply, done, err := h.Feed(rest[:k], r.reply)
		r.reply = reply
		r.n += n
		switch {
		case n < 0 || n > k:
			r.bad = fmt.Sprintf("n=%d for %d bytes", n, k)
		case err != nil:
			r.err = err
		case done:
			r.done = true
		case n < k:
			r.bad = fmt.Sprintf("consumed %d of %d without done or error", n, k)
		case len(reply) != 0:
			r.bad = "reply before done"
		}
		if r.bad != "" || r.err != nil || r.done {
			break
		}
		rest = rest[n:]
	}
	r.digestOK, r.s2OK = h.ServerDigestOK(), h.S2OK()
	if r.n > HandshakeWireSize || (r.done && (r.n != HandshakeWireSize || len(r.reply) != HandshakeSize)) {
		r.bad = fmt.Sprintf("consumed %d bytes, replied %d, done=%v", r.n, len(r.reply), r.done)
	}
	return r
}

// clientConfigs are the client modes exercised by the pairing tests and the
// client fuzz seeds.
var clientConfigs = []struct {
	name    string
	digest  bool
	scheme  DigestScheme
	version [4]byte
}{
	{name: "simple"},
	{name: "digest default", digest: true},
	{name: "digest scheme 0", digest: true, scheme: DigestScheme0},
	{name: "digest scheme 1 flash 11.2", digest: true, scheme: DigestScheme1, version: [4]byte{11, 2, 202, 235}},
}

// TestHandshakePair runs ClientHandshake against ServerHandshake in memory
// in every mode, whole and split.
func TestHandshakePair(t *testing.T) {
	for _, cfg := range clientConfigs {
		for _, split := range []struct {
			name string
			next func(int) int
		}{{"whole", whole}, {"one byte", oneByte}, {"random", randomSplits(42)}} {
			t.Run(cfg.name+"/"+split.name, func(t *testing.T) {
				c := testClient(cfg.digest, cfg.scheme, cfg.version)
				s := testServer()
				c0c1 := c.Start(make([]byte, 0, 16))
				if len(c0c1) != 1+HandshakeSize || c0c1[0] != RTMPVersion {
					t.Fatalf("C0+C1 = %d bytes, C0 %d", len(c0c1), c0c1[0])
				}
				c1 := c0c1[1:]
				if binary.BigEndian.Uint32(c1) != testClientEpoch {
					t.Errorf("C1 time = %#x", binary.BigEndian.Uint32(c1))
				}
				wantVersion := [4]byte{}
				if cfg.digest {
					wantVersion = cfg.version
					if wantVersion == ([4]byte{}) {
						wantVersion = [4]byte{9, 0, 124, 2}
					}
				}
				if !bytes.Equal(c1[4:8], wantVersion[:]) {
					t.Errorf("C1 version field = %v, want %v", c1[4:8], wantVersion)
				}
				wantScheme := NoDigest
				if cfg.digest {
					wantScheme = DigestScheme1
					if cfg.scheme == DigestScheme0 {
						wantScheme = DigestScheme0
					}
					if _, ok := refDigestAt(c1, schemeBase(wantScheme), refFPKey[:30]); !ok {
						t.Fatalf("C1 digest does not verify in %v", wantScheme)
					}
				}

				sr := feedServer(s, 0, c0c1, split.next)
				if sr.bad != "" || sr.err != nil || sr.done || len(sr.reply) != HandshakeWireSize {
					t.Fatalf("server on C0+C1: %+v", brief(sr))
				}
				if s.Scheme() != wantScheme {
					t.Errorf("server Scheme = %v, want %v", s.Scheme(), wantScheme)
				}
				checkServerReply(t, c1, sr.reply, wantScheme)

				cr := feedClient(c, append(sr.reply, "chunk"...), split.next)
				if cr.bad != "" || cr.err != nil || !cr.done {
					t.Fatalf("client: %+v", cr)
				}
				if cr.digestOK != cfg.digest || c.ServerScheme() != wantScheme || !cr.s2OK {
					t.Errorf("client ServerDigestOK, ServerScheme, S2OK = %v, %v, %v", cr.digestOK, c.ServerScheme(), cr.s2OK)
				}
				s1 := sr.reply[1 : 1+HandshakeSize]
				if cfg.digest {
					sOff, _ := refDigestAt(s1, schemeBase(wantScheme), refFMSKey[:36])
					sig := refHMAC(refHMAC(refFPKey, s1[sOff:sOff+32]), cr.reply[:1504])
					if !bytes.Equal(sig, cr.reply[1504:]) {
						t.Errorf("C2 signature does not verify")
					}
				} else if !bytes.Equal(cr.reply, s1) {
					t.Errorf("simple C2 is not an echo of S1")
				}

				sr2 := feedServer(s, len(c0c1), cr.reply, split.next)
				if sr2.bad != "" || sr2.err != nil || !sr2.done || len(sr2.reply) != 0 || !s.C2OK() {
					t.Fatalf("server on C2: %+v, C2OK %v", brief(sr2), s.C2OK())
				}
				if _, _, done, err := c.Feed([]byte{1}, nil); !done || !errors.Is(err, ErrHandshakeDone) {
					t.Errorf("client after done: %v, %v", done, err)
				}
			})
		}
	}
}

// TestClientHandshakeLenient feeds the client server replies that a strict
// client would reject.
func TestClientHandshakeLenient(t *testing.T) {
	type want struct {
		n        int
		done     bool
		err      error
		digestOK bool
		s2OK     bool
		c2       string // "echo" of S1, "digest", or "" for none
	}
	junk := func(seed uint64, version [4]byte) []byte {
		s1 := make([]byte, HandshakeSize)
		_, _ = newDetRand(seed).Read(s1)
		copy(s1[4:8], version[:])
		return s1
	}
	for _, tc := range []struct {
		name   string
		digest bool
		server func(c1 []byte) []byte
		want   want
	}{
		{"digest client, simple server", true, func(c1 []byte) []byte {
			return cat([]byte{3}, junk(1, [4]byte{}), c1)
		}, want{n: HandshakeWireSize, done: true, s2OK: true, c2: "echo"}},
		{"digest client, junk S1 digest", true, func(c1 []byte) []byte {
			return cat([]byte{3}, junk(2, [4]byte{4, 5, 0, 1}), junk(3, [4]byte{}))
		}, want{n: HandshakeWireSize, done: true, c2: "echo"}},
		{"simple client, S2 with changed time2", false, func(c1 []byte) []byte {
			s2 := bytes.Clone(c1)
			copy(s2[4:8], "time")
			return cat([]byte{3}, junk(4, [4]byte{}), s2)
		}, want{n: HandshakeWireSize, done: true, s2OK: true, c2: "echo"}},
		{"simple client, junk S2", false, func(c1 []byte) []byte {
			return cat([]byte{3}, junk(5, [4]byte{}), junk(6, [4]byte{}), []byte("extra"))
		}, want{n: HandshakeWireSize, done: true, c2: "echo"}},
		{"S0 version 6", true, func(c1 []byte) []byte {
			return cat([]byte{6}, c1)
		}, want{n: 1, err: ErrBadVersion}},
		{"S0+S1 only", true, func(c1 []byte) []byte {
			return cat([]byte{3}, junk(7, [4]byte{}))
		}, want{n: 1 + HandshakeSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(tc.digest, NoDigest, [4]byte{})
			c0c1 := c.Start(nil)
			wire := tc.server(c0c1[1:])
			got := feedClient(c, wire, whole)
			if got.bad != "" {
				t.Fatal(got.bad)
			}
			if !errors.Is(got.err, tc.want.err) || (got.err == nil) != (tc.want.err == nil) ||
				got.n != tc.want.n || got.done != tc.want.done ||
				got.digestOK != tc.want.digestOK || got.s2OK != tc.want.s2OK {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			switch tc.want.c2 {
			case "echo":
				if !bytes.Equal(got.reply, wire[1:1+HandshakeSize]) {
					t.Errorf("C2 is not an echo of S1")
				}
			case "":
				if len(got.reply) != 0 {
					t.Errorf("unexpected C2")
				}
			}
			for seed := range uint64(8) {
				c.Reset()
				c.Rand = newDetRand(testClientSeed)
				c.Start(nil)
				if split := feedClient(c, wire, randomSplits(seed)); !split.equal(got) {
					t.Errorf("split %d: %+v, whole %+v", seed, split, got)
				}
			}
		})
	}
}

func TestClientHandshakeMisuse(t *testing.T) {
	var c ClientHandshake
	if _, _, _, err := c.Feed([]byte{3}, nil); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Feed before Start: %v", err)
	}
	c.Rand = failRand{}
	if out := c.Start([]byte("x")); string(out) != "x" {
		t.Errorf("Start with failing Rand appended %d bytes", len(out)-1)
	}
	if _, _, _, err := c.Feed([]byte{3}, nil); !errors.Is(err, errTestRand) {
		t.Errorf("Feed after failed Start: %v", err)
	}
	c.Reset()
	if _, _, _, err := c.Feed([]byte{3}, nil); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Feed after Reset: %v", err)
	}
}

func TestHMACSHA256(t *testing.T) {
	msg := make([]byte, HandshakeSize)
	_, _ = newDetRand(1).Read(msg)
	for _, kl := range []int{0, 1, 30, 32, 36, 62, 63, 64, 65, 68, 200} {
		key := msg[len(msg)-kl:]
		for _, cut := range [][2]int{{0, 0}, {0, 32}, {10, 1504}, {700, 1536}, {1536, 1536}} {
			a, b := msg[:cut[0]], msg[cut[0]:cut[1]]
			got := hmacSHA256(key, a, b)
			if want := refHMAC(key, a, b); !bytes.Equal(got[:], want) {
				t.Errorf("key %d bytes, message %v: got %x, want %x", kl, cut, got, want)
			}
		}
	}
}

func TestDigestSchemeString(t *testing.T) {
	for s, want := range map[DigestScheme]string{NoDigest: "simple", DigestScheme0: "digest0", DigestScheme1: "digest1", 9: "DigestScheme(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", uint8(s), s.String(), want)
		}
	}
}

// TestServerHandshakePeers runs ServerHandshake against real RTMP clients:
// ffmpeg publishing and ffprobe playing. Both use ffmpeg's native RTMP
// client, which sends a digest C1 (Flash 9.0.124.2, scheme 1); ffprobe, as a
// player, also rejects the connection unless S1's digest and S2's
// signature verify.
func TestServerHandshakePeers(t *testing.T) {
	peers := []struct {
		name string
		bin  string
		args func(url string) []string
	}{
		{"ffmpeg", "/usr/bin/ffmpeg", func(url string) []string {
			return []string{"-nostdin", "-hide_banner", "-loglevel", "error",
				"-f", "lavfi", "-i", "testsrc", "-t", "1", "-f", "flv", url}
		}},
		{"ffprobe", "/usr/bin/ffprobe", func(url string) []string {
			return []string{"-hide_banner", "-loglevel", "error", url}
		}},
	}
	for _, peer := range peers {
		t.Run(peer.name, func(t *testing.T) {
			if _, err := os.Stat(peer.bin); err != nil {
				t.Skipf("%s not installed", peer.bin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			deadline, _ := ctx.Deadline()

			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_ = ln.(*net.TCPListener).SetDeadline(deadline)

			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, peer.bin, peer.args(fmt.Sprintf("rtmp://%s/live/x", ln.Addr()))...)
			cmd.Stderr = &stderr
			cmd.WaitDelay = time.Second
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var stopOnce sync.Once
			stop := func() {
				stopOnce.Do(func() {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				})
			}
			defer stop()
			fail := func(format string, args ...any) {
				t.Helper()
				stop()
				t.Fatalf("%s; %s stderr: %q", fmt.Sprintf(format, args...), peer.name, stderr.String())
			}

			conn, err := ln.Accept()
			if err != nil {
				fail("accept: %v", err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(deadline)

			h := ServerHandshake{Epoch: 0}
			buf := make([]byte, 8192)
			out := make([]byte, 0, HandshakeWireSize)
			var after []byte
			for after == nil {
				k, rerr := conn.Read(buf)
				if k > 0 {
					n, reply, done, ferr := h.Feed(buf[:k], out[:0])
					if ferr != nil {
						fail("Feed: %v", ferr)
					}
					if len(reply) > 0 {
						if _, err := conn.Write(reply); err != nil {
							fail("write S0+S1+S2: %v", err)
						}
					}
					if done {
						after = append([]byte{}, buf[n:k]...)
						break
					}
				}
				if rerr != nil {
					fail("read during handshake: %v", rerr)
				}
			}
			for len(after) == 0 {
				k, rerr := conn.Read(buf)
				after = append(after, buf[:k]...)
				if len(after) == 0 && rerr != nil {
					fail("no chunk stream bytes after the handshake (peer rejected it?): %v", rerr)
				}
			}
			t.Logf("%s: scheme %v, C2OK %v, %d chunk stream bytes, first chunk fmt %d",
				peer.name, h.Scheme(), h.C2OK(), len(after), after[0]>>6)
			if !h.Complex() {
				t.Errorf("%s's C1 digest did not verify", peer.name)
			}
			if !h.C2OK() {
				t.Errorf("%s's C2 did not match", peer.name)
			}
		})
	}
}

// FuzzServerHandshake feeds arbitrary client bytes whole and in random
// splits: no panic, the same result either way, never past C2.
func FuzzServerHandshake(f *testing.F) {
	for i, tc := range serverCases() {
		f.Add(tc.wire, uint64(i))
	}
	f.Fuzz(func(t *testing.T, wire []byte, seed uint64) {
		got := feedServer(testServer(), 0, wire, whole)
		if got.bad != "" {
			t.Fatal(got.bad)
		}
		if got.err != nil && !errors.Is(got.err, ErrBadVersion) {
			t.Fatalf("unexpected error %v", got.err)
		}
		if got.done != (len(wire) >= HandshakeWireSize && got.err == nil) {
			t.Fatalf("done = %v for %d bytes (err %v)", got.done, len(wire), got.err)
		}
		if split := feedServer(testServer(), 0, wire, cutSplits(seed, len(wire))); !split.equal(got) {
			t.Fatalf("split %+v, whole %+v", brief(split), brief(got))
		}
	})
}

// FuzzClientHandshake feeds arbitrary server bytes to a client, whole and in
// random splits: no panic, the same result either way, never past S2.
func FuzzClientHandshake(f *testing.F) {
	for i, cfg := range clientConfigs {
		_, _, s := pairWire(testClient(cfg.digest, cfg.scheme, cfg.version))
		f.Add(s, cfg.digest, uint8(cfg.scheme), uint64(i))
		f.Add(s[:1+HandshakeSize], cfg.digest, uint8(cfg.scheme), uint64(i))
	}
	f.Add([]byte{6, 0, 0}, true, uint8(0), uint64(0))
	f.Fuzz(func(t *testing.T, wire []byte, digest bool, scheme uint8, seed uint64) {
		run := func(next func(int) int) clientResult {
			c := testClient(digest, DigestScheme(scheme), [4]byte{})
			c.Start(nil)
			return feedClient(c, wire, next)
		}
		got := run(whole)
		if got.bad != "" {
			t.Fatal(got.bad)
		}
		if got.err != nil && !errors.Is(got.err, ErrBadVersion) {
			t.Fatalf("unexpected error %v", got.err)
		}
		if split := run(cutSplits(seed, len(wire))); !split.equal(got) {
			t.Fatalf("split %+v, whole %+v", split, got)
		}
	})
}

func benchmarkServerHandshake(b *testing.B, wire []byte, complex bool) {
	h := &ServerHandshake{Epoch: testServerEpoch}
	out := make([]byte, 0, HandshakeWireSize)
	h.Feed(wire, out) // warm up crypto/rand outside the measurement
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		h.Reset()
		n, _, done, err := h.Feed(wire, out[:0])
		if err != nil || !done || n != len(wire) || h.Complex() != complex {
			b.Fatalf("Feed = %d, %v, %v; complex %v", n, done, err, h.Complex())
		}
	}
}

// BenchmarkServerHandshakeSimple measures a whole simple handshake
// (C0+C1 in, S0+S1+S2 out, C2 in) with crypto/rand.
func BenchmarkServerHandshakeSimple(b *testing.B) {
	benchmarkServerHandshake(b, serverCases()[0].wire, false)
}

// BenchmarkServerHandshakeComplex measures a whole digest handshake, the
// kind ffmpeg and OBS send, with crypto/rand.
func BenchmarkServerHandshakeComplex(b *testing.B) {
	benchmarkServerHandshake(b, serverCases()[1].wire, true)
}
