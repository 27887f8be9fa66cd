package chunkcodec

import (
	"encoding/binary"
	"io"
)

// ClientHandshake is the client side of the RTMP handshake as a push state
// machine, for the load generator and tests: Start produces C0+C1, Feed
// consumes S0+S1+S2 and produces C2.
//
// The zero value sends the simple handshake; set Digest to send a digest C1
// as Flash Player does. The server's digest is checked but, like a lenient
// player, the client never fails on it; see ServerDigestOK. A ClientHandshake
// holds three 1536-byte buffers and must not be copied. It is not safe for
// concurrent use.
type ClientHandshake struct {
	_ noCopy

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

	hsReceiver
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
	h.Reset()
	h.state = hsVersion
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
		pkt := &h.s1
		if h.state == hsPacket2 {
			pkt = &h.s2
		}
		var c int
		var full bool
		c, full, err = h.receive(p[n:], pkt, "S0")
		n += c
		if err != nil {
			h.err = err
			return n, out, false, err
		}
		if !full {
			continue
		}
		if h.state == hsPacket1 {
			if h.Digest {
				h.serverScheme, h.serverOff = peerDigest(&h.s1, hsMediaServerKey[:hsFMSKeyText])
			}
			h.state = hsPacket2
			continue
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
	return n, out, false, nil
}

// checkS2 sets s2OK and digestOK from the received S2.
func (h *ClientHandshake) checkS2() {
	if h.Digest && responseOK(&h.s2, h.c1[h.clientOff:h.clientOff+hsDigestSize], hsMediaServerKey) {
		h.s2OK = true
		h.digestOK = h.serverScheme != NoDigest
		return
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
	c2 := (*[HandshakeSize]byte)(out[start:])
	if err := signResponse(c2, h.Rand, h.s1[h.serverOff:h.serverOff+hsDigestSize], hsFlashPlayerKey); err != nil {
		return out[:start], err
	}
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
