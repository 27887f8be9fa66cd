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
// The digest handshake is described in handshake_digest.go, the server side
// is in handshake_server.go and the client side in handshake_client.go. This
// file holds what both sides share: the constants, the digest scheme, and
// the receiving of the peer's version byte and packets.
//
// Encrypted RTMP (RTMPE, version bytes 6, 8 and 9) is not supported.
//
// These files are pure: no I/O, no clock, no goroutines. The caller supplies
// the time written in S1/C1 and, optionally, the random source; it also
// enforces a handshake deadline, since a peer that stops sending leaves the
// state machine waiting forever.

import (
	"crypto/rand"
	"crypto/subtle"
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

// hsState is the position of a handshake state machine.
type hsState uint8

const (
	hsIdle    hsState = iota // client: Start not called yet
	hsVersion                // awaiting C0/S0
	hsPacket1                // awaiting C1/S1
	hsPacket2                // awaiting C2/S2
	hsDone                   // complete
)

// hsReceiver takes in what the peer sends during the handshake, the same on
// both sides: a version byte (C0 or S0), then two packets of HandshakeSize
// bytes (C1 and C2, or S1 and S2), in pieces of any size. The owning state
// machine moves state past hsPacket1 and hsPacket2 once it has used each
// packet.
type hsReceiver struct {
	state hsState
	got   int // bytes of the current packet received
}

// receive consumes from p, which must not be empty, the version byte
// (state hsVersion) or as much of the awaited packet as p holds, copying
// packet bytes into pkt. It returns the bytes consumed and whether the packet
// is now complete in pkt. A version byte other than RTMPVersion is consumed
// and fails with ErrBadVersion; version names it in the error ("C0" or "S0").
func (r *hsReceiver) receive(p []byte, pkt *[HandshakeSize]byte, version string) (n int, full bool, err error) {
	if r.state == hsVersion {
		if v := p[0]; v != RTMPVersion {
			return 1, false, fmt.Errorf("%w: %s version %d", ErrBadVersion, version, v)
		}
		r.state = hsPacket1
		return 1, false, nil
	}
	n = copy(pkt[r.got:], p)
	r.got += n
	if r.got < HandshakeSize {
		return n, false, nil
	}
	r.got = 0
	return n, true, nil
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
