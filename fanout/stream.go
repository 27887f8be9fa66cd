package fanout

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/wsflv"
)

// StreamOptions are per-stream switches, typically set from the app's config.
type StreamOptions struct {
	// GOPCache serves joining players from the last keyframe. When false they
	// start at the next keyframe.
	GOPCache bool
}

// Stream is one live stream: a ring of packets written by one publisher at a time
// and read by any number of subscribers on any loop.
//
// BeginPublish, Publish, PublishAs, EndPublish, EndPublishAs and PublishControl
// form the writer side; they are safe from any goroutine and serialised by an
// internal mutex (uncontended in steady state), so a stream can change publishers
// across loops safely. Subscribers read without locks.
//
// The ring is allocated on the first BeginPublish, Publish or PublishControl: a
// stream that never had a publisher (a player waiting for a name to go live) holds
// only its own struct and one group pointer per loop.
type Stream struct {
	hub  *Hub          // immutable
	opts StreamOptions // immutable
	id   uint64        // process-unique owner id of this stream's packets; immutable
	mask uint64        // ring slots - 1; immutable

	// ring holds the slots once allocated. The writer stores it once, before head
	// first advances, and never replaces it; a reader that loaded head > 0 finds it
	// non-nil. Readers load it once per flush.
	ring atomic.Pointer[ringSlots]

	head     atomic.Uint64 // next sequence number to write
	tail     atomic.Uint64 // oldest retained sequence number
	gopStart atomic.Uint64 // seq of the newest sync point, or invalidSeq
	gopOK    atomic.Bool   // the GOP from gopStart is within the cache caps
	lastKey  atomic.Uint64 // seq of the newest sync point (for skip-ahead), or invalidSeq

	meta atomic.Pointer[Packet] // newest onMetaData
	vseq atomic.Pointer[Packet] // newest video sequence header
	aseq atomic.Pointer[Packet] // newest audio sequence header

	groups []atomic.Pointer[group] // one per loop; the slice is immutable

	// held mirrors ringBytes + codecBytes for MemoryBytes: written under wmu, read
	// from any goroutine.
	held atomic.Int64
	// burst: the publisher's input arrives in bursts a window apart
	// (SetBurstInput).
	burst atomic.Bool

	// Writer state, guarded by wmu.
	wmu        sync.Mutex
	slots      ringSlots // the ring's slots (nil until the first publish); same backing array as ring
	ringBytes  int       // cap() bytes of the packets the ring holds
	codecBytes int       // cap() bytes of meta, vseq and aseq (may also be in the ring)
	gopBytes   int       // cap() bytes of the ring from gopStart while gopOK
	epoch      uint64    // number of BeginPublish calls; the current publisher's epoch
	hasVideo   bool
	lastVideo  int64 // hub clock of the newest video message (writer lock)
	lastOutTS  uint32
	haveOut    bool
	// lastFrameTS is the output timestamp of the newest video frame (audio
	// frame without video), frameGap the step before it: a new publisher
	// continues one such step after the last output (see rebase).
	lastFrameTS uint32
	frameGap    uint32
	rebase      bool
	tsOffset    uint32
	publishing  bool
	suspended   bool   // the publisher left (SuspendPublishAs); players wait
	waitEOF     []byte // what players receive if no publisher comes (EndWaiting)

	// Subscriber count across loops.
	subs atomic.Int32

	audioSeen, videoSeen atomic.Bool
}

// ringSlots is a stream's ring: entry seq lives in slot seq&mask.
type ringSlots []atomic.Pointer[Packet]

// NewStream returns an empty stream on hub h. Safe from any goroutine. The ring is
// not allocated until the stream's first publish.
func (h *Hub) NewStream(opts StreamOptions) *Stream {
	s := &Stream{
		hub:    h,
		opts:   opts,
		id:     streamIDs.Add(1),
		mask:   uint64(h.cfg.RingSize - 1),
		groups: make([]atomic.Pointer[group], len(h.loops)),
	}
	s.gopStart.Store(invalidSeq)
	s.lastKey.Store(invalidSeq)
	return s
}

// Subscribers returns the number of attached subscribers. Safe from any goroutine.
func (s *Stream) Subscribers() int { return int(s.subs.Load()) }

// MemoryBytes returns the approximate memory the stream holds: its own struct, the
// ring's slots once allocated, and the capacity of every packet buffer its ring
// and codec state (metadata, sequence headers) retain. A sequence header still in
// the ring is counted twice. Subscribers' own structs are not included. Safe from
// any goroutine.
func (s *Stream) MemoryBytes() int {
	n := int(unsafe.Sizeof(*s)) + len(s.groups)*int(unsafe.Sizeof(atomic.Pointer[group]{}))
	if s.ring.Load() != nil {
		n += int(s.mask+1) * int(unsafe.Sizeof(atomic.Pointer[Packet]{}))
	}
	return n + int(s.held.Load())
}

// Publishing reports whether a publisher is attached. Safe from any goroutine.
func (s *Stream) Publishing() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.publishing
}

// allocRingLocked allocates the ring on the first publish and makes it visible to
// readers before any packet is.
func (s *Stream) allocRingLocked() {
	if s.slots != nil {
		return
	}
	r := make(ringSlots, s.mask+1)
	s.slots = r
	s.ring.Store(&r)
}

// setCodecLocked makes p (nil: none) the packet in slot, holding a reference of
// its own.
func (s *Stream) setCodecLocked(slot *atomic.Pointer[Packet], p *Packet) {
	if p != nil {
		p.Retain()
		s.codecBytes += p.heldBytes()
	}
	if old := slot.Swap(p); old != nil {
		s.codecBytes -= old.heldBytes()
		old.Release()
	}
}

// accountLocked publishes the held byte count to MemoryBytes.
func (s *Stream) accountLocked() { s.held.Store(int64(s.ringBytes + s.codecBytes)) }

func (s *Stream) dropCodecState() {
	s.setCodecLocked(&s.meta, nil)
	s.setCodecLocked(&s.vseq, nil)
	s.setCodecLocked(&s.aseq, nil)
	s.accountLocked()
	s.gopOK.Store(false)
	s.gopStart.Store(invalidSeq)
	s.lastKey.Store(invalidSeq)
	s.gopBytes = 0
}

func (s *Stream) appendControlLocked(b []byte, flags Flags) {
	s.allocRingLocked()
	seq := s.head.Load()
	p := newPacket(len(b), s.id, seq)
	p.Kind, p.Flags, p.TypeID, p.Timestamp = KindControl, flags, 0, s.lastOutTS
	p.RTMP = append(p.buf[:0], b...)
	p.Payload = nil
	s.insertLocked(p, seq)
}

// Publish encodes one media or data message once and makes it available to every
// subscriber, whoever the current publisher is. typeID is the RTMP message type (8
// audio, 9 video, 18 data); ts is the publisher's timestamp; payload is copied and
// may be reused by the caller as soon as Publish returns. Data messages should
// already be normalised to an onMetaData body (no @setDataFrame). It returns the
// packet's flags. Safe from any goroutine; a session that can be replaced by
// another publisher uses PublishAs.
func (s *Stream) Publish(typeID uint8, ts uint32, payload []byte) Flags {
	f, _ := s.publish(false, 0, typeID, ts, payload)
	return f
}

// PublishAs is Publish for the publisher whose BeginPublish returned epoch. The
// check is made under the stream's writer lock, so once a new BeginPublish (or
// EndPublish) has returned, no message of the replaced publisher gets in: it
// returns ErrNotPublisher and publishes nothing. Safe from any goroutine.
func (s *Stream) PublishAs(epoch uint64, typeID uint8, ts uint32, payload []byte) (Flags, error) {
	return s.publish(true, epoch, typeID, ts, payload)
}

// publish implements Publish (check false) and PublishAs.
func (s *Stream) publish(check bool, epoch uint64, typeID uint8, ts uint32, payload []byte) (Flags, error) {
	var kind Kind
	var flags Flags
	csid := chunkcodec.ChunkStreamFor(typeID)
	switch typeID {
	case chunkcodec.TypeAudio:
		kind = KindAudio
		if flvmux.IsAudioSequenceHeader(payload) {
			flags |= FlagSeqHeader
		}
	case chunkcodec.TypeVideo:
		kind = KindVideo
		if flvmux.IsVideoSequenceHeader(payload) {
			flags |= FlagSeqHeader
		} else if flvmux.IsVideoKeyframe(payload) {
			flags |= FlagKey
		}
	default:
		kind = KindData
		flags |= FlagMeta
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()

	if check && (!s.publishing || s.epoch != epoch) {
		return 0, ErrNotPublisher
	}
	s.allocRingLocked()

	if kind == KindVideo && flags&FlagSeqHeader == 0 {
		s.hasVideo = true
		if !s.videoSeen.Load() {
			s.videoSeen.Store(true)
		}
	}
	if kind == KindAudio && !s.audioSeen.Load() {
		s.audioSeen.Store(true)
	}
	if kind == KindAudio && !s.hasVideo && flags&FlagSeqHeader == 0 {
		flags |= FlagKey // audio-only: every frame is a sync point
	}

	// Rebase timestamps after a republish so they never go backwards for players.
	// The new publisher's first message comes one frame step after the last
	// one out (1 ms when no step is known): a step of 1 ms put its first frame
	// on the same frame slot as the previous publisher's last for a player
	// that rounds to the frame rate (ffmpeg: "non monotonically increasing
	// dts").
	if s.rebase {
		s.rebase = false
		if s.haveOut {
			s.tsOffset = s.lastOutTS + max(s.frameGap, 1) - ts
		} else {
			s.tsOffset = 0
		}
	}
	out := ts + s.tsOffset
	if int32(out-s.lastOutTS) > 0 || !s.haveOut {
		s.lastOutTS, s.haveOut = out, true
	}
	if flags&FlagSeqHeader == 0 && (kind == KindVideo || kind == KindAudio && !s.hasVideo) {
		if d := out - s.lastFrameTS; d > 0 && d <= maxFrameGap {
			s.frameGap = d
		}
		s.lastFrameTS = out
	}

	h := chunkcodec.Header{
		ChunkStreamID: csid,
		Timestamp:     out,
		Length:        uint32(len(payload)),
		TypeID:        typeID,
		StreamID:      chunkcodec.PlayStreamID,
	}
	cs := s.hub.cfg.ChunkSize
	n := chunkcodec.EncodedLen(h, len(payload), cs)
	tagLen := flvmux.TagHeaderSize + len(payload) + flvmux.PrevTagSizeLen
	seq := s.head.Load()
	p := newPacket(n+maxWSHeader+tagLen, s.id, seq)
	p.Kind, p.Flags, p.TypeID, p.Timestamp = kind, flags, typeID, out
	// Layout: [RTMP chunks][WebSocket frame header][FLV tag]. Every form is
	// encoded here, once, and shared by every subscriber of that form.
	p.RTMP = chunkcodec.AppendMessage(p.buf[:0], h, payload, cs)
	ws := p.buf[len(p.RTMP):len(p.RTMP)]
	ws = appendWSBinaryHeader(ws, tagLen)
	p.WSHeader = ws
	tag := p.buf[len(p.RTMP)+len(ws) : len(p.RTMP)+len(ws)]
	tag = flvmux.AppendTagHeader(tag, typeID, uint32(len(payload)), out)
	tag = append(tag, payload...)
	tag = flvmux.AppendPrevTagSize(tag, uint32(tagLen-flvmux.PrevTagSizeLen))
	p.Tag = tag
	p.Payload = tag[flvmux.TagHeaderSize : flvmux.TagHeaderSize+len(payload)]

	s.hub.packetsIn.Add(1)
	s.hub.bytesIn.Add(uint64(len(payload)))

	switch {
	case flags&FlagMeta != 0:
		s.setCodecLocked(&s.meta, p)
	case flags&FlagSeqHeader != 0:
		slot := &s.aseq
		if kind == KindVideo {
			slot = &s.vseq
		}
		s.setCodecLocked(slot, p)
	}
	s.insertLocked(p, seq)
	return flags, nil
}

// insertLocked stores p (holding its one reference) at seq, trims the ring, keeps
// the GOP bookkeeping and wakes the loops that have subscribers.
func (s *Stream) insertLocked(p *Packet, seq uint64) {
	cfg := &s.hub.cfg
	size := p.heldBytes()
	if old := s.slots[seq&s.mask].Swap(p); old != nil {
		// Not expected: trimLocked keeps fewer than len(slots) packets.
		s.ringBytes -= old.heldBytes()
		old.Release()
	}
	s.ringBytes += size

	if p.Flags&FlagKey != 0 {
		s.lastKey.Store(seq)
		if s.opts.GOPCache {
			s.gopStart.Store(seq)
			s.gopBytes = 0
			s.gopOK.Store(true)
		}
	}
	if s.gopOK.Load() {
		s.gopBytes += size
		if s.gopBytes > cfg.GOPMaxBytes || seq+1-s.gopStart.Load() > uint64(cfg.GOPMaxFrames) {
			s.gopOK.Store(false)
		}
	}

	s.head.Store(seq + 1)
	s.trimLocked(seq)
	s.accountLocked()

	now := s.hub.clock()
	if p.Kind == KindVideo {
		s.lastVideo = now
	}
	if s.subs.Load() == 0 {
		return
	}
	// Audio of a stream with recent video does not wake the loops: it goes out
	// with the next video packet, in the same writev. A delivered byte costs one
	// system call per write (design notes), and audio and video messages arrive
	// apart, so this halves the writes per viewer at a cost to audio only of at
	// most one video frame interval. Control messages (the end of a stream)
	// go out at once, window or not.
	wake := p.Kind != KindAudio || !s.hasVideo || now-s.lastVideo > int64(audioRide)
	urgent := p.Kind == KindControl
	if s.burst.Load() {
		// Batched already: this burst goes out now, on every loop.
		wake, urgent = true, true
	}
	for i := range s.groups {
		g := s.groups[i].Load()
		if g == nil || g.n.Load() == 0 {
			continue
		}
		if g.pending.CompareAndSwap(false, true) {
			s.hub.loops[i].push(g, now, false)
		}
		if wake {
			s.hub.loops[i].wake(urgent, now)
		}
	}
}

// trimLocked releases the oldest packets the stream no longer needs, newest being
// the entry just written. Retention, in real (buffer capacity) bytes: the current
// GOP while it is served from the cache (never trimmed), plus Config.LagBytes
// before it for viewers that lag; without a served GOP, only LagBytes. The ring
// never holds more than len(slots)-1 packets or (except for a served GOP, which
// GOPMaxBytes bounds) more than MaxRingBytes. The newest packet is always kept.
// tail moves before the packets are released, so a reader sees it is lapped as
// early as possible.
func (s *Stream) trimLocked(newest uint64) {
	cfg := &s.hub.cfg
	limit := cfg.LagBytes
	gop := s.gopOK.Load()
	gs := s.gopStart.Load()
	if gop {
		limit += s.gopBytes
	}
	limit = min(limit, cfg.MaxRingBytes)

	old := s.tail.Load()
	tail, bytes := old, s.ringBytes
	for tail < newest && (newest+1-tail > s.mask || bytes > limit) {
		if gop && tail >= gs {
			break
		}
		if p := s.slots[tail&s.mask].Load(); p != nil {
			bytes -= p.heldBytes()
		}
		tail++
	}
	if tail == old {
		return
	}
	s.tail.Store(tail)
	for seq := old; seq < tail; seq++ {
		if p := s.slots[seq&s.mask].Swap(nil); p != nil {
			s.ringBytes -= p.heldBytes()
			p.Release()
		}
	}
}

// maxWSHeader is the largest server-to-client WebSocket frame header: servers
// send no mask key (RFC 6455 section 5.3).
const maxWSHeader = wsflv.MaxFrameHeader - 4

// appendWSBinaryHeader appends the header of a final, unmasked binary frame
// with an n-byte payload.
func appendWSBinaryHeader(dst []byte, n int) []byte {
	return wsflv.AppendFrameHeader(dst, true, wsflv.OpBinary, n)
}

// HasAudio and HasVideo report whether the stream currently carries them (from
// its sequence headers and frames); FLV subscribers use them for the file header.
func (s *Stream) HasAudio() bool { return s.aseq.Load() != nil || s.audioSeen.Load() }

// HasVideo reports whether the stream carries video.
func (s *Stream) HasVideo() bool { return s.vseq.Load() != nil || s.videoSeen.Load() }

// CodecState calls fn with the payloads of the stream's newest onMetaData
// (the AMF0 body, without @setDataFrame), video sequence header and audio
// sequence header, each nil when the stream has none. The slices are valid
// only during fn, which must not retain them. Read-only and lock-free; safe
// from any goroutine (the admin API and the publish summary use it; the
// delivery path does not).
func (s *Stream) CodecState(fn func(meta, video, audio []byte)) {
	var b [3][]byte
	var held [3]*Packet
	for i, slot := range [3]*atomic.Pointer[Packet]{&s.meta, &s.vseq, &s.aseq} {
		if p := retainCurrent(slot, s.id); p != nil {
			held[i], b[i] = p, p.Payload
		}
	}
	defer func() {
		for _, p := range held {
			if p != nil {
				p.Release()
			}
		}
	}()
	fn(b[0], b[1], b[2])
}

// retainCurrent acquires the packet currently held in slot (meta or a sequence
// header) of the stream with id owner, or returns nil.
func retainCurrent(slot *atomic.Pointer[Packet], owner uint64) *Packet {
	for range 4 {
		p := slot.Load()
		if p == nil {
			return nil
		}
		if !p.tryRetain(owner, p.seq.Load()) {
			continue
		}
		if slot.Load() == p {
			return p
		}
		p.Release()
	}
	return nil
}

// Close releases every packet the stream holds (the ring's slots stay allocated).
// No subscriber may remain and no publisher may write afterwards. Safe from any
// goroutine.
func (s *Stream) Close() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.dropCodecState()
	s.tail.Store(s.head.Load())
	for i := range s.slots {
		if p := s.slots[i].Swap(nil); p != nil {
			p.Release()
		}
	}
	s.ringBytes, s.gopBytes = 0, 0
	s.accountLocked()
}
