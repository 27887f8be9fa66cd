package fanout

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Kind says what a Packet carries.
type Kind uint8

// Packet kinds.
const (
	KindAudio   Kind = iota + 1 // RTMP message type 8
	KindVideo                   // RTMP message type 9
	KindData                    // AMF0 data (onMetaData and friends)
	KindControl                 // server-made bytes for RTMP players only (end of stream, republish notices)
)

// Flags describe a Packet's role for the GOP cache and for slow-subscriber recovery.
type Flags uint8

// Packet flags.
const (
	// FlagKey marks a random access point: a video keyframe, or any audio frame of
	// a stream that carries no video.
	FlagKey Flags = 1 << iota
	// FlagSeqHeader marks a codec sequence header (AVC/HEVC/AV1 config, AAC config).
	FlagSeqHeader
	// FlagMeta marks stream metadata (onMetaData).
	FlagMeta
	// FlagEOS marks the end of a publisher's session (a KindControl packet).
	// FLV subscribers end their response there.
	FlagEOS
)

const invalidSeq = ^uint64(0)

// Packet is one message of a stream, encoded once and shared read-only by every
// subscriber. Packets are reference counted: the stream's ring holds one reference
// while the packet is retained, and a subscriber holds one only for the duration of
// a flush. When the count drops to zero the packet returns to its size-class pool;
// using a Packet after releasing it is forbidden.
type Packet struct {
	refs atomic.Int32
	seq  atomic.Uint64 // ring sequence number; invalidSeq while pooled

	Kind      Kind
	Flags     Flags
	TypeID    uint8  // RTMP message type id
	Timestamp uint32 // outbound timestamp (ms) after republish rebasing

	// RTMP holds the message as RTMP chunks (a type-0 first chunk with an absolute
	// timestamp, type-3 continuations) on the stream's fixed chunk stream id and
	// message stream id 1, at the hub's outbound chunk size. Valid while a
	// reference is held.
	RTMP []byte
	// Payload is the message body. It lives inside the packet's FLV tag (Tag),
	// after the tag header and before the PreviousTagSize. Valid while a reference
	// is held.
	Payload []byte
	// Tag is the message as one FLV tag: 11-byte tag header (with the packet's own
	// timestamp), Payload, 4-byte PreviousTagSize. Nil for KindControl packets.
	Tag []byte
	// WSHeader is the header of an unmasked binary WebSocket frame carrying
	// exactly one FLV tag of len(Tag) bytes: the same for every WebSocket subscriber.
	WSHeader []byte

	buf   []byte
	class int
}

// Retain adds a reference. The caller must already hold one.
func (p *Packet) Retain() { p.refs.Add(1) }

// Release drops a reference; the last one returns the packet to its pool.
func (p *Packet) Release() {
	if n := p.refs.Add(-1); n == 0 {
		p.seq.Store(invalidSeq)
		p.RTMP, p.Payload, p.Tag, p.WSHeader = nil, nil, nil, nil
		pools[p.class].Put(p)
	} else if n < 0 {
		panic("fanout: packet released more times than retained")
	}
}

// tryRetain takes a reference only if the packet is live and still holds seq. It is
// safe against the writer recycling the packet concurrently: a pooled packet has no
// references and cannot be acquired, and a recycled one carries a different seq.
func (p *Packet) tryRetain(seq uint64) bool {
	for {
		r := p.refs.Load()
		if r <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(r, r+1) {
			break
		}
	}
	if p.seq.Load() != seq {
		p.Release()
		return false
	}
	return true
}

// Size classes: powers of two from 256 B to 32 MiB.
const (
	minClassShift = 8
	numClasses    = 18
)

var pools [numClasses]sync.Pool

func classFor(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// newPacket returns a packet with one reference and a buffer of at least n bytes.
// The seq is set before the reference so that a reader racing on a stale pointer
// sees the new seq as soon as it can acquire (see tryRetain).
func newPacket(n int, seq uint64) *Packet {
	c := classFor(n)
	var p *Packet
	if c < 0 {
		// Larger than any class: never pooled; the GC reclaims it.
		p = &Packet{buf: make([]byte, n), class: numClasses - 1}
		p.seq.Store(seq)
		p.refs.Store(1)
		return p
	}
	if v := pools[c].Get(); v != nil {
		p = v.(*Packet)
	} else {
		p = &Packet{buf: make([]byte, 1<<(c+minClassShift)), class: c}
	}
	p.seq.Store(seq)
	p.refs.Store(1)
	return p
}
