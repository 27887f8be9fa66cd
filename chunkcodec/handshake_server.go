package chunkcodec

import (
	"encoding/binary"
	"io"
)

// ServerHandshake is the server side of the RTMP handshake as a push state
// machine: C0+C1 in, S0+S1+S2 out, C2 in, done. It answers a digest C1 with a
// digest S1/S2 in the same scheme and anything else with the simple
// handshake. C2 is read but never rejected (strict C2 checks broke Android
// encoders); C2OK reports whether it matched, for logging.
//
// The zero value is ready to use; set Epoch (and Rand) before the first
// Feed. A ServerHandshake holds two 1536-byte buffers: drop it, or Reset it
// for another connection, once the handshake is done; it must not be copied.
// It is not safe for concurrent use; use it from the connection's loop only.
// The caller must enforce a handshake deadline and close connections that
// exceed it.
type ServerHandshake struct {
	_ noCopy

	// Epoch is the server time in milliseconds written in S1.
	Epoch uint32
	// Rand supplies the random bytes of S1 and S2; nil means crypto/rand.
	Rand io.Reader

	hsReceiver
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
		var c int
		var full bool
		c, full, err = h.receive(p[n:], &h.in, "C0")
		n += c
		if err != nil {
			h.err = err
			return n, reply, false, err
		}
		if !full {
			continue
		}
		if h.state == hsPacket1 {
			reply, err = h.appendReply(out)
			if err != nil {
				h.err = err
				return n, out, false, err
			}
			h.state = hsPacket2
			continue
		}
		h.c2OK = h.checkC2()
		h.state = hsDone
		return n, reply, true, nil
	}
	return n, reply, false, nil
}

// appendReply builds S1 from the C1 in h.in and appends S0+S1+S2 to out.
// On error it returns out unchanged.
func (h *ServerHandshake) appendReply(out []byte) ([]byte, error) {
	c1 := &h.in
	var clientOff int
	h.scheme, clientOff = peerDigest(c1, hsFlashPlayerKey[:hsFPKeyText])

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
	s2 := (*[HandshakeSize]byte)(reply[start+1+HandshakeSize:])
	if h.scheme == NoDigest {
		*s2 = *c1
		return reply, nil
	}
	if err := signResponse(s2, h.Rand, c1[clientOff:clientOff+hsDigestSize], hsMediaServerKey); err != nil {
		return out[:start], err
	}
	return reply, nil
}

// checkC2 reports whether the C2 in h.in is what a conforming client sends:
// a digest C2 signed for our S1 digest, or an echo of S1 (time2 ignored).
func (h *ServerHandshake) checkC2() bool {
	c2 := &h.in
	if h.scheme != NoDigest && responseOK(c2, h.s1[h.digestOff:h.digestOff+hsDigestSize], hsFlashPlayerKey) {
		return true
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
