package fanout

import (
	"math/bits"
	"slices"
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
	// FlagSuspend marks where a publisher left while its players wait for the
	// next one (a KindControl packet without bytes). Only subscribers with
	// SubscriberOptions.EndOnSuspend (recordings) end there.
	FlagSuspend
)

const invalidSeq = ^uint64(0)

// noOwner is the owner of a pooled packet; stream ids start at 1.
const noOwner = 0

// streamIDs hands out process-unique stream ids. Packet pools are process-global
// and every stream numbers its packets from 0, so a (stream id, seq) pair, not a
// seq alone, names one use of a pooled packet.
var streamIDs atomic.Uint64

// Packet is one message of a stream, encoded once and shared read-only by every
// subscriber. Packets are reference counted: the stream's ring holds one reference
// while the packet is retained, and a subscriber holds one only for the duration of
// a flush. When the count drops to zero the packet returns to its size-class pool;
// using a Packet after releasing it is forbidden.
//
// refs, owner and seq are atomic because a reader may hold a stale pointer to a
// packet that has since been recycled (see tryRetain); every other field is written
// only by the stream's writer before the packet is published in the ring, and is
// read-only while a reference is held.
type Packet struct {
	refs  atomic.Int32
	owner atomic.Uint64 // id of the stream that wrote this use of the packet; noOwner while pooled
	seq   atomic.Uint64 // ring sequence number in owner's ring; invalidSeq while pooled

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

	buf   []byte // one buffer holding every form; cap(buf) is what the packet really holds
	class int    // size class, or -1 for a packet larger than any class (never pooled)
}

// Retain adds a reference. The caller must already hold one.
func (p *Packet) Retain() { p.refs.Add(1) }

// Release drops a reference; the last one returns the packet to its pool.
func (p *Packet) Release() {
	if n := p.refs.Add(-1); n == 0 {
		p.seq.Store(invalidSeq)
		p.owner.Store(noOwner)
		p.RTMP, p.Payload, p.Tag, p.WSHeader = nil, nil, nil, nil
		if p.class >= 0 {
			pools[p.class].Put(p)
		}
	} else if n < 0 {
		panic("fanout: packet released more times than retained")
	}
}

// heldBytes is the memory the packet's buffer really occupies.
func (p *Packet) heldBytes() int { return cap(p.buf) }

// tryRetain takes a reference only if the packet is live and is still entry seq of
// the stream with id owner. It is safe against any writer recycling the packet
// concurrently: a pooled packet has no references and cannot be acquired, and a
// recycled one carries a different (owner, seq) pair, because owner and seq are
// stored before the reference count that makes the packet acquirable (see init),
// and stream ids are unique in the process.
func (p *Packet) tryRetain(owner, seq uint64) bool {
	for {
		r := p.refs.Load()
		if r <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(r, r+1) {
			break
		}
	}
	if p.seq.Load() != seq || p.owner.Load() != owner {
		p.Release()
		return false
	}
	return true
}

// init makes a pooled (or new) packet entry seq of stream owner, with one
// reference. owner and seq are stored before the reference, so a reader racing on
// a stale pointer sees the new pair as soon as it can acquire (see tryRetain).
func (p *Packet) init(owner, seq uint64) {
	p.owner.Store(owner)
	p.seq.Store(seq)
	p.refs.Store(1)
}

// Size classes: 256 B, then four per power of two (2^e * 5/4, 6/4, 7/4, 2) up to
// 32 MiB, so rounding wastes under a fifth of a buffer. Powers of two alone wasted
// up to half: a packet holds every form of a message, about twice its payload,
// which lands just above a power of two for power-of-two frame sizes.
const (
	minClassShift    = 8
	maxClassShift    = 25
	classStepShift   = 2 // log2 of the classes per power of two
	classesPerDouble = 1 << classStepShift
	numClasses       = (maxClassShift-minClassShift)*classesPerDouble + 1
)

var pools [numClasses]sync.Pool

// classFor returns the smallest class holding n bytes, or -1.
func classFor(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	e := bits.Len(uint(n-1)) - 1 // 2^e < n <= 2^(e+1)
	k := (n-1-1<<e)>>(e-classStepShift) + 1
	c := (e-minClassShift)*classesPerDouble + k
	if c >= numClasses {
		return -1
	}
	return c
}

// classSize is the nominal buffer size of class c.
func classSize(c int) int {
	if c == 0 {
		return 1 << minClassShift
	}
	e := minClassShift + (c-1)/classesPerDouble
	k := (c-1)%classesPerDouble + 1
	return 1<<e + k<<(e-classStepShift)
}

// newBuf allocates a buffer of at least n bytes whose capacity is the size the
// allocator really reserved for it, so cap() accounts memory as it is held.
func newBuf(n int) []byte {
	b := slices.Grow([]byte(nil), n)
	return b[:cap(b)]
}

// newPacket returns a packet with one reference and a buffer of at least n bytes,
// as entry seq of the stream with id owner.
func newPacket(n int, owner, seq uint64) *Packet {
	c := classFor(n)
	var p *Packet
	switch {
	case c < 0:
		// Larger than any class: never pooled; the GC reclaims it.
		p = &Packet{buf: newBuf(n), class: -1}
	default:
		if v := pools[c].Get(); v != nil {
			p = v.(*Packet)
		} else {
			p = &Packet{buf: newBuf(classSize(c)), class: c}
		}
	}
	p.init(owner, seq)
	return p
}
