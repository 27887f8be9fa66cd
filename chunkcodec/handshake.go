package chunkcodec

// RTMP handshake, RTMP specification 1.0 section 5.2, plus the de-facto
// "complex" (digest) handshake that Flash Player 9 and later, Flash Media
// Server and most encoders and players (ffmpeg, OBS, librtmp with FP9
// enabled) speak.
//
// Simple handshake (section 5.2): each side sends a version byte (C0/S0,
// always 3) and a 1536-byte packet (C1/S1: 4-byte time, 4 zero bytes, 1528
// random bytes), then echoes the peer's packet (C2/S2).
//
// Digest handshake: the 4 bytes after the time carry a non-zero version
// (Flash Player's, or the server's), and the 1528-byte body is split into two
// 764-byte blocks, a key block and a digest block, in one of two orders:
//
//	scheme 0: time(4) version(4) key block(764)    digest block(764)
//	scheme 1: time(4) version(4) digest block(764) key block(764)
//
// Inside the digest block, the 32-byte digest sits at
// (sum of the block's first 4 bytes) % 728 + 4. The digest is HMAC-SHA256 of
// the 1536-byte packet with those 32 bytes left out, keyed with the first 30
// bytes of the Flash Player key (C1) or the first 36 bytes of the Flash Media
// Server key (S1). The reply packets (S2/C2) are 1504 random bytes followed
// by HMAC-SHA256 of them, keyed with HMAC-SHA256 of the peer's digest under
// the full 62- (Flash Player) or 68-byte (Flash Media Server) key.
//
// Encrypted RTMP (RTMPE, version bytes 6, 8 and 9) is not supported.
//
// This file is pure: no I/O, no clock, no goroutines. The caller supplies
// the time written in S1/C1 and, optionally, the random source; it also
// enforces a handshake deadline, since a peer that stops sending leaves the
// state machine waiting forever.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	// HandshakeSize is the length of each handshake packet (C1, C2, S1, S2).
	HandshakeSize = 1536

	// RTMPVersion is the only version byte accepted in C0 and S0, and the
	// one sent. Other values (6, 8 and 9 request RTMPE) fail with
	// ErrBadVersion.
	RTMPVersion = 3

	// HandshakeWireSize is the exact number of bytes each peer sends during
	// the handshake: the version byte and two packets (C0+C1+C2 from the
	// client, S0+S1+S2 from the server). Feed never consumes more, so it is
	// also the handshake's byte limit.
	HandshakeWireSize = 1 + 2*HandshakeSize
)

// Layout of the digest handshake.
const (
	hsDigestSize   = sha256.Size                       // 32
	hsBlockSize    = 764                               // key and digest blocks
	hsOffsetMod    = 728                               // digest offset modulus
	hsSignedSize   = HandshakeSize - hsDigestSize      // 1504: signed part of C2/S2
	hsFirstBlock   = 8                                 // after time and version
	hsSecondBlock  = hsFirstBlock + hsBlockSize        // 772
	hsFPKeyText    = 30                                // "Genuine Adobe Flash Player 001"
	hsFMSKeyText   = 36                                // "Genuine Adobe Flash Media Server 001"
	hsMaxHMACInput = HandshakeSize                     // largest message hmacSHA256 takes
	hsHMACBufSize  = sha256.BlockSize + hsMaxHMACInput // pad block + message
)

// Well-known handshake keys: a text prefix followed by the same 32 bytes.
// Read-only constant tables.
var (
	hsFlashPlayerKey = []byte("Genuine Adobe Flash Player 001" +
		"\xf0\xee\xc2\x4a\x80\x68\xbe\xe8\x2e\x00\xd0\xd1\x02\x9e\x7e\x57" +
		"\x6e\xec\x5d\x2d\x29\x80\x6f\xab\x93\xb8\xe6\x36\xcf\xeb\x31\xae")
	hsMediaServerKey = []byte("Genuine Adobe Flash Media Server 001" +
		"\xf0\xee\xc2\x4a\x80\x68\xbe\xe8\x2e\x00\xd0\xd1\x02\x9e\x7e\x57" +
		"\x6e\xec\x5d\x2d\x29\x80\x6f\xab\x93\xb8\xe6\x36\xcf\xeb\x31\xae")
)

// hsServerVersion is the version field the server writes in a digest S1.
// Peers only check that it is non-zero (ffmpeg: first byte >= 3).
var hsServerVersion = [4]byte{0x04, 0x05, 0x00, 0x01}

// hsDefaultFlashVersion is used by ClientHandshake when Digest is set and
// FlashVersion is zero: Flash Player 9.0.124.2, as ffmpeg sends.
var hsDefaultFlashVersion = [4]byte{9, 0, 124, 2}

// DigestScheme says which digest handshake layout a packet uses, if any.
type DigestScheme uint8

const (
	// NoDigest is the simple handshake of the RTMP specification: no digest
	// was sent, or none verified.
	NoDigest DigestScheme = iota
	// DigestScheme0 puts the key block first and the digest block at
	// offset 772.
	DigestScheme0
	// DigestScheme1 puts the digest block at offset 8 and the key block
	// after it. Flash Player and ffmpeg send this layout.
	DigestScheme1
)

// String returns a short name for logs: "simple", "digest0" or "digest1".
func (s DigestScheme) String() string {
	switch s {
	case NoDigest:
		return "simple"
	case DigestScheme0:
		return "digest0"
	case DigestScheme1:
		return "digest1"
	}
	return fmt.Sprintf("DigestScheme(%d)", uint8(s))
}

// digestBlock returns the offset of the scheme's digest block in a packet.
func (s DigestScheme) digestBlock() int {
	if s == DigestScheme0 {
		return hsSecondBlock
	}
	return hsFirstBlock
}

// hsState is the position of a handshake state machine.
type hsState uint8

const (
	hsIdle    hsState = iota // client: Start not called yet
	hsVersion                // awaiting C0/S0
	hsPacket1                // awaiting C1/S1
	hsPacket2                // awaiting C2/S2
	hsDone                   // complete
)

// ServerHandshake is the server side of the RTMP handshake as a push state
// machine: C0+C1 in, S0+S1+S2 out, C2 in, done. It answers a digest C1 with a
// digest S1/S2 in the same scheme and anything else with the simple
// handshake. C2 is read but never rejected (strict C2 checks broke Android
// encoders); C2OK reports whether it matched, for logging.
//
// The zero value is ready to use; set Epoch (and Rand) before the first
// Feed. A ServerHandshake holds two 1536-byte buffers: drop it, or Reset it
// for another connection, once the handshake is done. It is not safe for
// concurrent use; use it from the connection's loop only. The caller must
// enforce a handshake deadline and close connections that exceed it.
type ServerHandshake struct {
	// Epoch is the server time in milliseconds written in S1.
	Epoch uint32
	// Rand supplies the random bytes of S1 and S2; nil means crypto/rand.
	Rand io.Reader

	state     hsState
	got       int // bytes of the current packet received
	scheme    DigestScheme
	digestOff int // offset of the server's digest in s1 (digest handshake)
	c2OK      bool
	err       error               // sticky error
	in        [HandshakeSize]byte // C1, then C2
	s1        [HandshakeSize]byte // S1 as sent, to check C2
}

// Feed consumes handshake bytes from p and returns how many it consumed.
//
// When the S0+S1+S2 reply becomes due, Feed appends its 3073 bytes to out and
// returns the extended slice as reply (len(reply) > len(out)); otherwise reply
// is out unchanged. The caller owns out and reply and writes reply to the
// peer. Feed may grow out once; give it HandshakeWireSize bytes of spare
// capacity to avoid that.
//
// done is true, in the call that completes it, once C2 has been fully
// consumed: p[n:] then belongs to the chunk stream. Feed never consumes
// bytes past the end of C2. If n < len(p) and done is false, err is set; on
// an error n counts the bytes examined, the offending version byte included.
//
// Errors are sticky: a C0 other than RTMPVersion returns ErrBadVersion, and
// a failing Rand returns its error wrapped; every later call returns the same
// error. A call after done returns ErrHandshakeDone. Bytes may arrive split
// at any point; the results do not depend on the split.
func (h *ServerHandshake) Feed(p []byte, out []byte) (n int, reply []byte, done bool, err error) {
	reply = out
	if h.err != nil {
		return 0, out, false, h.err
	}
	if h.state == hsDone {
		return 0, out, true, ErrHandshakeDone
	}
	if h.state == hsIdle {
		h.state = hsVersion
	}
	for n < len(p) {
		switch h.state {
		case hsVersion:
			v := p[n]
			n++
			if v != RTMPVersion {
				h.err = fmt.Errorf("%w: C0 version %d", ErrBadVersion, v)
				return n, reply, false, h.err
			}
			h.state = hsPacket1
		case hsPacket1:
			c := copy(h.in[h.got:], p[n:])
			n += c
			h.got += c
			if h.got < HandshakeSize {
				return n, reply, false, nil
			}
			reply, err = h.appendReply(out)
			if err != nil {
				h.err = err
				return n, out, false, err
			}
			h.got = 0
			h.state = hsPacket2
		case hsPacket2:
			c := copy(h.in[h.got:], p[n:])
			n += c
			h.got += c
			if h.got < HandshakeSize {
				return n, reply, false, nil
			}
			h.c2OK = h.checkC2()
			h.state = hsDone
			return n, reply, true, nil
		}
	}
	return n, reply, false, nil
}

// appendReply builds S1 from the C1 in h.in and appends S0+S1+S2 to out.
// On error it returns out unchanged.
func (h *ServerHandshake) appendReply(out []byte) ([]byte, error) {
	c1 := &h.in
	var clientDigest [hsDigestSize]byte
	h.scheme = NoDigest
	if binary.BigEndian.Uint32(c1[4:8]) != 0 {
		var off int
		h.scheme, off = findDigest(c1, hsFlashPlayerKey[:hsFPKeyText])
		if h.scheme != NoDigest {
			copy(clientDigest[:], c1[off:])
		}
	}

	binary.BigEndian.PutUint32(h.s1[0:4], h.Epoch)
	if err := readRandom(h.Rand, h.s1[8:]); err != nil {
		return out, err
	}
	if h.scheme == NoDigest {
		clear(h.s1[4:8])
	} else {
		copy(h.s1[4:8], hsServerVersion[:])
		h.digestOff = signPacket(&h.s1, h.scheme, hsMediaServerKey[:hsFMSKeyText])
	}

	start := len(out)
	if cap(out)-start < HandshakeWireSize {
		grown := make([]byte, start, start+HandshakeWireSize)
		copy(grown, out)
		out = grown
	}
	reply := out[:start+HandshakeWireSize]
	reply[start] = RTMPVersion
	copy(reply[start+1:], h.s1[:])
	s2 := reply[start+1+HandshakeSize:]
	if h.scheme == NoDigest {
		copy(s2, c1[:])
		return reply, nil
	}
	if err := readRandom(h.Rand, s2[:hsSignedSize]); err != nil {
		return out[:start], err
	}
	sig := responseSignature(clientDigest[:], hsMediaServerKey, s2[:hsSignedSize])
	copy(s2[hsSignedSize:], sig[:])
	return reply, nil
}

// checkC2 reports whether the C2 in h.in is what a conforming client sends:
// a digest C2 signed for our S1 digest, or an echo of S1 (time2 ignored).
func (h *ServerHandshake) checkC2() bool {
	c2 := &h.in
	if h.scheme != NoDigest {
		sig := responseSignature(h.s1[h.digestOff:h.digestOff+hsDigestSize],
			hsFlashPlayerKey, c2[:hsSignedSize])
		if subtle.ConstantTimeCompare(sig[:], c2[hsSignedSize:]) == 1 {
			return true
		}
	}
	return isEcho(c2, &h.s1)
}

// Complex reports whether the client used the digest handshake and its C1
// digest verified, so that the server replied in kind. Valid once the reply
// has been produced. Not safe for concurrent use.
func (h *ServerHandshake) Complex() bool { return h.scheme != NoDigest }

// Scheme returns the digest scheme of the client's C1 (NoDigest for the
// simple handshake). Valid once the reply has been produced. Not safe for
// concurrent use.
func (h *ServerHandshake) Scheme() DigestScheme { return h.scheme }

// C2OK reports whether C2 matched: a valid digest signature or an echo of
// S1 (time2 ignored). It is for logging only; a mismatch never fails the
// handshake. Valid once Feed has returned done. Not safe for concurrent use.
func (h *ServerHandshake) C2OK() bool { return h.c2OK }

// Reset returns h to its initial state for a new connection, keeping Epoch
// and Rand. Not safe for concurrent use.
func (h *ServerHandshake) Reset() {
	*h = ServerHandshake{Epoch: h.Epoch, Rand: h.Rand}
}

// ClientHandshake is the client side of the RTMP handshake as a push state
// machine, for the load generator and tests: Start produces C0+C1, Feed
// consumes S0+S1+S2 and produces C2.
//
// The zero value sends the simple handshake; set Digest to send a digest C1
// as Flash Player does. The server's digest is checked but, like a lenient
// player, the client never fails on it; see ServerDigestOK. A ClientHandshake
// holds three 1536-byte buffers. It is not safe for concurrent use.
type ClientHandshake struct {
	// Epoch is the client time in milliseconds written in C1.
	Epoch uint32
	// Rand supplies the random bytes of C1 and C2; nil means crypto/rand.
	Rand io.Reader
	// Digest makes C1 a digest packet signed with the Flash Player key.
	Digest bool
	// FlashVersion is the version field of a digest C1; zero means
	// 9.0.124.2. Ignored without Digest (the simple C1 has zeros there).
	FlashVersion [4]byte
	// Scheme is the layout of a digest C1; NoDigest means DigestScheme1,
	// the layout Flash Player uses. Ignored without Digest.
	Scheme DigestScheme

	state        hsState
	got          int
	clientOff    int          // offset of our digest in c1
	serverScheme DigestScheme // scheme of a verified S1 digest
	serverOff    int          // offset of the server digest in s1
	digestOK     bool
	s2OK         bool
	err          error
	c1           [HandshakeSize]byte
	s1           [HandshakeSize]byte
	s2           [HandshakeSize]byte
}

// Start resets the handshake, appends C0+C1 to out and returns the extended
// slice, which the caller owns and sends. If Rand fails, Start returns out
// unchanged and the next Feed returns the error. Not safe for concurrent use.
func (h *ClientHandshake) Start(out []byte) []byte {
	*h = ClientHandshake{
		Epoch:        h.Epoch,
		Rand:         h.Rand,
		Digest:       h.Digest,
		FlashVersion: h.FlashVersion,
		Scheme:       h.Scheme,
		state:        hsVersion,
	}
	c1 := &h.c1
	binary.BigEndian.PutUint32(c1[0:4], h.Epoch)
	if err := readRandom(h.Rand, c1[8:]); err != nil {
		h.err = err
		return out
	}
	if h.Digest {
		v := h.FlashVersion
		if v == [4]byte{} {
			v = hsDefaultFlashVersion
		}
		copy(c1[4:8], v[:])
		scheme := h.Scheme
		if scheme != DigestScheme0 {
			scheme = DigestScheme1
		}
		h.clientOff = signPacket(c1, scheme, hsFlashPlayerKey[:hsFPKeyText])
	}
	out = append(out, RTMPVersion)
	return append(out, c1[:]...)
}

// Feed consumes S0+S1+S2 bytes from p and returns how many it consumed.
//
// Once S2 is complete, Feed appends C2 to out and returns the extended slice
// as reply, with done true; p[n:] then belongs to the chunk stream and Feed
// never consumes past the end of S2. Otherwise reply is out unchanged. C2 is
// a digest reply when Digest is set and S1's digest verified, and an echo of
// S1 otherwise.
//
// Errors are sticky: an S0 other than RTMPVersion returns ErrBadVersion, a
// failing Rand its error wrapped, Feed before Start ErrNotStarted, and a call
// after done ErrHandshakeDone. Not safe for concurrent use.
func (h *ClientHandshake) Feed(p []byte, out []byte) (n int, reply []byte, done bool, err error) {
	reply = out
	switch {
	case h.err != nil:
		return 0, out, false, h.err
	case h.state == hsIdle:
		return 0, out, false, ErrNotStarted
	case h.state == hsDone:
		return 0, out, true, ErrHandshakeDone
	}
	for n < len(p) {
		switch h.state {
		case hsVersion:
			v := p[n]
			n++
			if v != RTMPVersion {
				h.err = fmt.Errorf("%w: S0 version %d", ErrBadVersion, v)
				return n, out, false, h.err
			}
			h.state = hsPacket1
		case hsPacket1:
			c := copy(h.s1[h.got:], p[n:])
			n += c
			h.got += c
			if h.got < HandshakeSize {
				return n, out, false, nil
			}
			if h.Digest && binary.BigEndian.Uint32(h.s1[4:8]) != 0 {
				h.serverScheme, h.serverOff = findDigest(&h.s1, hsMediaServerKey[:hsFMSKeyText])
			}
			h.got = 0
			h.state = hsPacket2
		case hsPacket2:
			c := copy(h.s2[h.got:], p[n:])
			n += c
			h.got += c
			if h.got < HandshakeSize {
				return n, out, false, nil
			}
			h.checkS2()
			reply, err = h.appendC2(out)
			if err != nil {
				h.err = err
				return n, out, false, err
			}
			h.state = hsDone
			return n, reply, true, nil
		}
	}
	return n, out, false, nil
}

// checkS2 sets s2OK and digestOK from the received S2.
func (h *ClientHandshake) checkS2() {
	if h.Digest {
		sig := responseSignature(h.c1[h.clientOff:h.clientOff+hsDigestSize],
			hsMediaServerKey, h.s2[:hsSignedSize])
		if subtle.ConstantTimeCompare(sig[:], h.s2[hsSignedSize:]) == 1 {
			h.s2OK = true
			h.digestOK = h.serverScheme != NoDigest
			return
		}
	}
	h.s2OK = isEcho(&h.s2, &h.c1)
}

// appendC2 appends C2 to out; on error it returns out unchanged.
func (h *ClientHandshake) appendC2(out []byte) ([]byte, error) {
	if h.serverScheme == NoDigest {
		return append(out, h.s1[:]...), nil
	}
	start := len(out)
	out = append(out, make([]byte, HandshakeSize)...)
	c2 := out[start:]
	if err := readRandom(h.Rand, c2[:hsSignedSize]); err != nil {
		return out[:start], err
	}
	sig := responseSignature(h.s1[h.serverOff:h.serverOff+hsDigestSize],
		hsFlashPlayerKey, c2[:hsSignedSize])
	copy(c2[hsSignedSize:], sig[:])
	return out, nil
}

// ServerDigestOK reports whether the server answered a digest C1 with a
// verified S1 digest and a valid S2 signature. Always false without Digest.
// Valid once Feed has returned done. Not safe for concurrent use.
func (h *ClientHandshake) ServerDigestOK() bool { return h.digestOK }

// ServerScheme returns the scheme of the server's verified S1 digest, or
// NoDigest. Valid once S1 has been consumed. Not safe for concurrent use.
func (h *ClientHandshake) ServerScheme() DigestScheme { return h.serverScheme }

// S2OK reports whether S2 matched: an echo of C1 (time2 ignored) or, with
// Digest, a valid signature. For logging; never fails the handshake. Valid
// once Feed has returned done. Not safe for concurrent use.
func (h *ClientHandshake) S2OK() bool { return h.s2OK }

// Reset returns h to its state before Start, keeping the exported
// configuration fields. Not safe for concurrent use.
func (h *ClientHandshake) Reset() {
	*h = ClientHandshake{
		Epoch:        h.Epoch,
		Rand:         h.Rand,
		Digest:       h.Digest,
		FlashVersion: h.FlashVersion,
		Scheme:       h.Scheme,
	}
}

// readRandom fills b from r, or from crypto/rand when r is nil.
func readRandom(r io.Reader, b []byte) error {
	if r == nil {
		_, _ = rand.Read(b) // never fails (Go 1.24+)
		return nil
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("chunkcodec: handshake random source: %w", err)
	}
	return nil
}

// isEcho reports whether got echoes sent: same time and random bytes; the
// time2 field (bytes 4..7) may differ.
func isEcho(got, sent *[HandshakeSize]byte) bool {
	return subtle.ConstantTimeCompare(got[0:4], sent[0:4]) == 1 &&
		subtle.ConstantTimeCompare(got[8:], sent[8:]) == 1
}

// digestOffset returns where the scheme puts the 32-byte digest in pkt.
// The result is at most 8+764+4+727 = 1503, so the digest always fits.
func digestOffset(pkt *[HandshakeSize]byte, s DigestScheme) int {
	b := s.digestBlock()
	sum := int(pkt[b]) + int(pkt[b+1]) + int(pkt[b+2]) + int(pkt[b+3])
	return b + 4 + sum%hsOffsetMod
}

// packetDigest computes the digest of pkt for a digest at off.
func packetDigest(pkt *[HandshakeSize]byte, off int, key []byte) [hsDigestSize]byte {
	return hmacSHA256(key, pkt[:off], pkt[off+hsDigestSize:])
}

// findDigest looks for a digest of pkt under key in both schemes and
// returns the matching scheme and the digest's offset, or NoDigest.
func findDigest(pkt *[HandshakeSize]byte, key []byte) (DigestScheme, int) {
	for _, s := range [...]DigestScheme{DigestScheme1, DigestScheme0} {
		off := digestOffset(pkt, s)
		d := packetDigest(pkt, off, key)
		if subtle.ConstantTimeCompare(d[:], pkt[off:off+hsDigestSize]) == 1 {
			return s, off
		}
	}
	return NoDigest, 0
}

// signPacket writes pkt's digest under key in scheme s and returns its
// offset. The random bytes and version field must already be in place.
func signPacket(pkt *[HandshakeSize]byte, s DigestScheme, key []byte) int {
	off := digestOffset(pkt, s)
	d := packetDigest(pkt, off, key)
	copy(pkt[off:], d[:])
	return off
}

// responseSignature returns the trailing signature of a digest C2/S2:
// HMAC-SHA256(HMAC-SHA256(peerDigest, fullKey), body).
func responseSignature(peerDigest, fullKey, body []byte) [hsDigestSize]byte {
	k := hmacSHA256(fullKey, peerDigest, nil)
	return hmacSHA256(k[:], body, nil)
}

// hmacSHA256 returns HMAC-SHA256 (RFC 2104) of a followed by b under key.
// It works on a stack buffer so that the handshake does not allocate;
// len(a)+len(b) must not exceed hsMaxHMACInput.
func hmacSHA256(key, a, b []byte) [sha256.Size]byte {
	var k [sha256.BlockSize]byte
	if len(key) > sha256.BlockSize {
		s := sha256.Sum256(key)
		copy(k[:], s[:])
	} else {
		copy(k[:], key)
	}
	var buf [hsHMACBufSize]byte
	for i, c := range k {
		buf[i] = c ^ 0x36
	}
	n := sha256.BlockSize + copy(buf[sha256.BlockSize:], a)
	n += copy(buf[n:], b)
	inner := sha256.Sum256(buf[:n])
	for i, c := range k {
		buf[i] = c ^ 0x5c
	}
	n = sha256.BlockSize + copy(buf[sha256.BlockSize:], inner[:])
	return sha256.Sum256(buf[:n])
}
