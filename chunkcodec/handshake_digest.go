package chunkcodec

// The digest ("complex") handshake that both sides speak; see handshake.go
// for the simple one.
//
// The 4 bytes after the time carry a non-zero version (Flash Player's, or the
// server's), and the 1528-byte body is split into two 764-byte blocks, a key
// block and a digest block, in one of two orders:
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

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"io"
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

// digestBlock returns the offset of the scheme's digest block in a packet.
func (s DigestScheme) digestBlock() int {
	if s == DigestScheme0 {
		return hsSecondBlock
	}
	return hsFirstBlock
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

// peerDigest validates the digest of the peer's first packet (C1 or S1) under
// key (the Flash Player key's text for C1, the Media Server key's for S1) and
// returns its scheme and offset, or NoDigest. A packet whose version field is
// zero is a simple handshake packet: it is not searched.
func peerDigest(pkt *[HandshakeSize]byte, key []byte) (DigestScheme, int) {
	if binary.BigEndian.Uint32(pkt[4:8]) == 0 {
		return NoDigest, 0
	}
	return findDigest(pkt, key)
}

// signPacket writes pkt's digest under key in scheme s and returns its
// offset. The random bytes and version field must already be in place.
func signPacket(pkt *[HandshakeSize]byte, s DigestScheme, key []byte) int {
	off := digestOffset(pkt, s)
	d := packetDigest(pkt, off, key)
	copy(pkt[off:], d[:])
	return off
}

// signResponse fills a digest reply packet (S2 or C2) with random bytes from
// r followed by their signature for the peer's digest under fullKey (the
// sender's full key).
func signResponse(pkt *[HandshakeSize]byte, r io.Reader, peerDigest, fullKey []byte) error {
	if err := readRandom(r, pkt[:hsSignedSize]); err != nil {
		return err
	}
	sig := responseSignature(peerDigest, fullKey, pkt[:hsSignedSize])
	copy(pkt[hsSignedSize:], sig[:])
	return nil
}

// responseOK reports whether a received reply packet (C2 or S2) is signed
// for our digest under fullKey (the peer's full key).
func responseOK(pkt *[HandshakeSize]byte, ourDigest, fullKey []byte) bool {
	sig := responseSignature(ourDigest, fullKey, pkt[:hsSignedSize])
	return subtle.ConstantTimeCompare(sig[:], pkt[hsSignedSize:]) == 1
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
