package fanout

import (
	"sync"
	"sync/atomic"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
)

// Outbound chunk stream ids: one per message kind, the same for every player, so
// that the chunk-encoded bytes are identical for all of them.
const (
	ChunkStreamCommand = 3
	ChunkStreamData    = 5
	ChunkStreamAudio   = 6
	ChunkStreamVideo   = 7
	// PlayStreamID is the message stream id every player's media is sent on. The
	// server hands out 1 for a connection's first createStream, which is what
	// ffmpeg, OBS, librtmp and VLC play on.
	PlayStreamID = 1
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
// Publish, BeginPublish, EndPublish and PublishControl form the writer side; they
// are serialised by an internal mutex (uncontended in steady state), so a stream can
// change publishers across loops safely. Subscribers read without locks.
type Stream struct {
	hub  *Hub
	opts StreamOptions
	mask uint64
	ring []atomic.Pointer[Packet]

	head     atomic.Uint64 // next sequence number to write
	tail     atomic.Uint64 // oldest retained sequence number
	gopStart atomic.Uint64 // seq of the newest sync point, or invalidSeq
	gopOK    atomic.Bool   // the GOP from gopStart is within the cache caps
	lastKey  atomic.Uint64 // seq of the newest sync point (for skip-ahead), or invalidSeq

	meta atomic.Pointer[Packet] // newest onMetaData
	vseq atomic.Pointer[Packet] // newest video sequence header
	aseq atomic.Pointer[Packet] // newest audio sequence header

	groups []atomic.Pointer[group]

	// Writer state, guarded by wmu.
	wmu        sync.Mutex
	ringBytes  int
	gopBytes   int
	hasVideo   bool
	lastOutTS  uint32
	haveOut    bool
	rebase     bool
	tsOffset   uint32
	publishing bool

	// Subscriber count across loops.
	subs atomic.Int32

	audioSeen, videoSeen atomic.Bool
}

// NewStream returns an empty stream on hub h.
func (h *Hub) NewStream(opts StreamOptions) *Stream {
	s := &Stream{
		hub:    h,
		opts:   opts,
		mask:   uint64(h.cfg.RingSize - 1),
		ring:   make([]atomic.Pointer[Packet], h.cfg.RingSize),
		groups: make([]atomic.Pointer[group], len(h.loops)),
	}
	s.gopStart.Store(invalidSeq)
	s.lastKey.Store(invalidSeq)
	return s
}

// Subscribers returns the number of attached subscribers. Safe from any goroutine.
func (s *Stream) Subscribers() int { return int(s.subs.Load()) }

// Publishing reports whether a publisher is attached.
func (s *Stream) Publishing() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.publishing
}

// BeginPublish marks the start of a publisher's session. Timestamps of the new
// publisher are rebased so that players see them continue from the previous
// publisher's last timestamp; codec state from a previous publisher is dropped.
func (s *Stream) BeginPublish() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.publishing = true
	s.rebase = true
	s.hasVideo = false
	s.audioSeen.Store(false)
	s.videoSeen.Store(false)
	s.dropCodecState()
}

// EndPublish marks the end of the publisher's session. eof, if non-empty, holds
// RTMP bytes (for example Stream EOF and NetStream.Play.UnpublishNotify) that every
// RTMP player receives in order after the last media packet. New players then wait
// for the next publisher's first keyframe.
func (s *Stream) EndPublish(eof []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.publishing = false
	s.appendControlLocked(eof, FlagEOS)
	s.dropCodecState()
}

// PublishControl appends server-made RTMP bytes (for example a
// NetStream.Play.PublishNotify) that every RTMP player receives in order.
func (s *Stream) PublishControl(b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.appendControlLocked(b, 0)
}

func (s *Stream) dropCodecState() {
	for _, p := range []*atomic.Pointer[Packet]{&s.meta, &s.vseq, &s.aseq} {
		if old := p.Swap(nil); old != nil {
			old.Release()
		}
	}
	s.gopOK.Store(false)
	s.gopStart.Store(invalidSeq)
	s.lastKey.Store(invalidSeq)
	s.gopBytes = 0
}

func (s *Stream) appendControlLocked(b []byte, flags Flags) {
	seq := s.head.Load()
	p := newPacket(len(b), seq)
	p.Kind, p.Flags, p.TypeID, p.Timestamp = KindControl, flags, 0, s.lastOutTS
	p.RTMP = append(p.buf[:0], b...)
	p.Payload = nil
	s.insertLocked(p, seq)
}

// Publish encodes one media or data message once and makes it available to every
// subscriber. typeID is the RTMP message type (8 audio, 9 video, 18 data); ts is the
// publisher's timestamp; payload is copied and may be reused by the caller as soon
// as Publish returns. Data messages should already be normalised to an
// onMetaData body (no @setDataFrame). It returns the packet's flags.
func (s *Stream) Publish(typeID uint8, ts uint32, payload []byte) Flags {
	var kind Kind
	var flags Flags
	csid := uint32(ChunkStreamData)
	switch typeID {
	case chunkcodec.TypeAudio:
		kind, csid = KindAudio, ChunkStreamAudio
		if flvmux.IsAudioSequenceHeader(payload) {
			flags |= FlagSeqHeader
		}
	case chunkcodec.TypeVideo:
		kind, csid = KindVideo, ChunkStreamVideo
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
	if s.rebase {
		s.rebase = false
		if s.haveOut {
			s.tsOffset = s.lastOutTS + 1 - ts
		} else {
			s.tsOffset = 0
		}
	}
	out := ts + s.tsOffset
	if int32(out-s.lastOutTS) > 0 || !s.haveOut {
		s.lastOutTS, s.haveOut = out, true
	}

	h := chunkcodec.Header{
		ChunkStreamID: csid,
		Timestamp:     out,
		Length:        uint32(len(payload)),
		TypeID:        typeID,
		StreamID:      PlayStreamID,
	}
	cs := s.hub.cfg.ChunkSize
	n := chunkcodec.EncodedLen(h, len(payload), cs)
	tagLen := flvmux.TagHeaderSize + len(payload) + flvmux.PrevTagSizeLen
	seq := s.head.Load()
	p := newPacket(n+maxWSHeader+tagLen, seq)
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
		p.Retain()
		if old := s.meta.Swap(p); old != nil {
			old.Release()
		}
	case flags&FlagSeqHeader != 0:
		p.Retain()
		slot := &s.aseq
		if kind == KindVideo {
			slot = &s.vseq
		}
		if old := slot.Swap(p); old != nil {
			old.Release()
		}
	}
	s.insertLocked(p, seq)
	return flags
}

// insertLocked stores p (holding its one reference) at seq, trims the ring, keeps
// the GOP bookkeeping and wakes the loops that have subscribers.
func (s *Stream) insertLocked(p *Packet, seq uint64) {
	size := len(p.RTMP)
	if old := s.ring[seq&s.mask].Swap(p); old != nil {
		s.ringBytes -= len(old.RTMP)
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
		if s.gopBytes > s.hub.cfg.GOPMaxBytes || seq+1-s.gopStart.Load() > uint64(s.hub.cfg.GOPMaxFrames) {
			s.gopOK.Store(false)
		}
	}

	s.head.Store(seq + 1)

	// Retention: the ring keeps at most RingSize-1 packets and MaxRingBytes, but
	// never trims into a GOP that is still being served from the cache.
	tail := s.tail.Load()
	if seq+1-tail > s.mask {
		tail = seq + 1 - s.mask
	}
	for tail < seq && s.ringBytes > s.hub.cfg.MaxRingBytes {
		if s.gopOK.Load() && tail >= s.gopStart.Load() {
			break
		}
		if old := s.ring[tail&s.mask].Swap(nil); old != nil {
			s.ringBytes -= len(old.RTMP)
			old.Release()
		}
		tail++
	}
	s.tail.Store(tail)

	if s.subs.Load() == 0 {
		return
	}
	// Audio of a stream with video does not wake the loops: it goes out with the
	// next video packet, in the same writev. A delivered byte costs one system
	// call per write (design notes), and audio and video messages arrive apart, so
	// this halves the writes per viewer at a cost to audio only of at most one
	// video frame interval (or the transport's tick if video stops).
	wake := p.Kind != KindAudio || !s.hasVideo
	for i := range s.groups {
		g := s.groups[i].Load()
		if g == nil || g.n.Load() == 0 {
			continue
		}
		if g.pending.CompareAndSwap(false, true) {
			s.hub.loops[i].push(g, wake)
		} else if wake {
			s.hub.loops[i].wake()
		}
	}
}

// maxWSHeader is the largest server-to-client WebSocket frame header (no mask).
const maxWSHeader = 10

// appendWSBinaryHeader appends the header of a final, unmasked binary frame with
// an n-byte payload (RFC 6455 section 5.2).
func appendWSBinaryHeader(dst []byte, n int) []byte {
	switch {
	case n < 126:
		return append(dst, 0x82, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, 126, byte(n>>8), byte(n))
	default:
		return append(dst, 0x82, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// HasAudio and HasVideo report whether the stream currently carries them (from
// its sequence headers and frames); FLV subscribers use them for the file header.
func (s *Stream) HasAudio() bool { return s.aseq.Load() != nil || s.audioSeen.Load() }

// HasVideo reports whether the stream carries video.
func (s *Stream) HasVideo() bool { return s.vseq.Load() != nil || s.videoSeen.Load() }

// retainCurrent acquires the packet currently held in slot (meta or a sequence
// header), or returns nil.
func retainCurrent(slot *atomic.Pointer[Packet]) *Packet {
	for range 4 {
		p := slot.Load()
		if p == nil {
			return nil
		}
		if !p.tryRetain(p.seq.Load()) {
			continue
		}
		if slot.Load() == p {
			return p
		}
		p.Release()
	}
	return nil
}

// Close releases every packet the stream holds. No subscriber may remain and no
// publisher may write afterwards.
func (s *Stream) Close() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.dropCodecState()
	for i := range s.ring {
		if p := s.ring[i].Swap(nil); p != nil {
			p.Release()
		}
	}
	s.ringBytes = 0
}
