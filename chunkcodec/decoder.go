package chunkcodec

// DecoderConfig holds a Decoder's limits. The zero value of every field
// selects its default; all defaults are safe against hostile peers.
type DecoderConfig struct {
	// MaxMessageSize caps one message's length, checked from the chunk
	// header before any payload byte is buffered. Longer messages fail with
	// ErrMessageTooLarge. Zero means DefaultMaxMessageSize; values above
	// MaxMessageLength are clamped to it.
	MaxMessageSize uint32

	// MaxInboundChunkSize caps the chunk size the peer may set with Set
	// Chunk Size; larger values fail with ErrChunkSizeTooLarge. Zero means
	// DefaultMaxInboundChunkSize; values above MaxChunkSize are clamped.
	MaxInboundChunkSize uint32

	// MaxChunkStreams caps the number of distinct chunk stream ids the peer
	// may use on the connection; one more fails with ErrTooManyChunkStreams.
	// Each chunk stream keeps its last header and a payload buffer, so this
	// bounds the decoder's memory to about MaxChunkStreams * 2 *
	// MaxMessageSize, and only for bytes the peer has actually sent. Zero
	// or negative means DefaultMaxChunkStreams.
	MaxChunkStreams int

	// MaxBufferedBytes caps the bytes held in messages that are still being
	// assembled, summed over all chunk streams: without it a peer could hold
	// MaxChunkStreams partial messages of MaxMessageSize each. Exceeding it fails
	// with ErrBufferedTooLarge. Zero means DefaultMaxBufferedBytes; it is never
	// below MaxMessageSize.
	MaxBufferedBytes uint32

	// MaxKeptBytes caps the buffer capacity that chunk streams keep between
	// messages for reuse, summed over the Decoder's chunk streams. A buffer
	// whose completed message takes the sum past it goes back to the pool
	// when the message is consumed (at the next Feed). Without it a peer that
	// completes one large message on each of MaxChunkStreams chunk streams
	// would leave MaxChunkStreams * MaxMessageSize behind. Zero means
	// DefaultMaxKeptBytes.
	MaxKeptBytes int

	// Budget, if not nil, is a byte budget shared with other Decoders (one
	// per server): the buffers of partial messages are reserved from it, and
	// a Feed that would exceed it fails with ErrBudgetExceeded. See Budget.
	// Nil means no shared limit (MaxBufferedBytes still applies).
	Budget *Budget

	// Pool supplies payload buffers. Share one BufferPool between all
	// connections. Nil means the Decoder allocates its buffers with make and
	// leaves them to the garbage collector on Release.
	Pool *BufferPool
}

// Decoder states.
const (
	stateHeader  uint8 = iota // expecting (or assembling) a chunk header
	statePayload              // copying the current chunk's payload
)

// maxChunkHeaderLen is the longest chunk header: a 3-byte basic header, an
// 11-byte type 0 message header and a 4-byte extended timestamp.
const maxChunkHeaderLen = 3 + 11 + 4

// growMin is the first allocation for a message longer than the bytes at
// hand: messages grow their buffer by doubling from here as chunks arrive,
// so memory follows the bytes received, not the length field.
const growMin = 4096

// chunkStream is the per-chunk-stream state of section 5.3.1.2: the fields of
// the most recent header (which compressed headers inherit) and the message
// being assembled.
type chunkStream struct {
	csid      uint32
	timestamp uint32 // absolute timestamp of the current or last message
	delta     uint32 // last timestamp delta; a type 3 new message repeats it
	length    uint32
	streamID  uint32
	extField  uint32 // value of the last extended timestamp field
	got       uint32 // payload bytes of the current message received so far
	typeID    uint8
	extended  bool // the last type 0/1/2 header used an extended timestamp
	active    bool // a message is partly received

	bufp *[]byte // pooled buffer handle, nil if none
	buf  []byte  // *bufp; len == cap

	held    int64 // bytes reserved from the Budget: len(buf) while active, else 0
	started int64 // Decoder.now when the current message began (valid while active)
}

// parsedHeader is a chunk header parsed but not yet applied.
type parsedHeader struct {
	csid     uint32
	tsField  uint32 // timestamp or delta, from the 24-bit or extended field
	length   uint32
	streamID uint32
	idx      int // index of the chunk stream, -1 if new
	typeID   uint8
	fmt      uint8
	ext      bool // the timestamp field is extended
}

// Decoder reassembles RTMP messages from a chunk stream (RTMP specification
// 1.0, section 5.3) and applies the protocol control messages that change the
// chunking (section 5.4).
//
// A Decoder is not safe for concurrent use: one connection's event loop (or
// goroutine) owns it. Create it with NewDecoder or Init; the zero value is
// not ready for use. Payload buffers come from DecoderConfig.Pool: each chunk
// stream keeps its buffer between messages, and the Decoder owns every buffer
// until Release (or Init) returns them to the pool. The owner must call
// Release when the connection closes. A Decoder must not be copied.
type Decoder struct {
	_ noCopy

	maxMessage  uint32
	maxBuffered uint32
	buffered    uint32 // payload bytes held in incomplete messages
	maxChunk    uint32
	maxStreams  int
	pool        *BufferPool
	budget      *Budget // shared; nil for none
	held        int64   // bytes reserved from budget, summed over chunk streams
	maxKept     int     // cap on kept buffer capacity (MaxKeptBytes)
	kept        int     // capacity of the buffers idle chunk streams keep
	dropIdx     int     // chunk stream whose buffer goes back to the pool at the next Feed, or -1
	now         int64   // the owner's clock, set by SetNow

	chunkSize uint32
	state     uint8
	chunkRem  uint32 // payload bytes left in the current chunk
	cur       int    // chunk stream of the current chunk

	streams []chunkStream
	small   [64]int32        // csid < 64 -> index+1 into streams
	big     map[uint32]int32 // csid >= 64 -> index into streams

	ph   parsedHeader
	hdr  [maxChunkHeaderLen]byte // a header split across Feed calls
	nhdr int

	// carry holds bytes already consumed (counted in an earlier n) that
	// turned out to follow a header rather than belong to it: see step.
	carry              [8]byte
	carryOff, carryLen int

	msg Message

	received uint64
	window   uint32
	lastAck  uint64

	err error
}

// NewDecoder returns a Decoder configured by cfg.
func NewDecoder(cfg DecoderConfig) *Decoder {
	d := new(Decoder)
	d.Init(cfg)
	return d
}

// Init (re)initialises d with cfg, as a new connection would see it: chunk
// size DefaultChunkSize, no chunk streams, counters at zero. Buffers d still
// holds are returned to its previous pool first, so a pooled Decoder can be
// reused by calling Init (Release, then Init, is equally fine).
func (d *Decoder) Init(cfg DecoderConfig) {
	d.Release()
	d.maxMessage = cfg.MaxMessageSize
	if d.maxMessage == 0 {
		d.maxMessage = DefaultMaxMessageSize
	}
	d.maxMessage = min(d.maxMessage, MaxMessageLength)
	d.maxBuffered = cfg.MaxBufferedBytes
	if d.maxBuffered == 0 {
		d.maxBuffered = DefaultMaxBufferedBytes
	}
	d.maxBuffered = max(d.maxBuffered, d.maxMessage)
	d.buffered = 0
	d.maxChunk = cfg.MaxInboundChunkSize
	if d.maxChunk == 0 {
		d.maxChunk = DefaultMaxInboundChunkSize
	}
	d.maxChunk = min(d.maxChunk, MaxChunkSize)
	d.maxStreams = cfg.MaxChunkStreams
	if d.maxStreams <= 0 {
		d.maxStreams = DefaultMaxChunkStreams
	}
	d.maxStreams = min(d.maxStreams, MaxChunkStreamID-MinChunkStreamID+1)
	d.pool = cfg.Pool
	d.budget = cfg.Budget
	d.maxKept = cfg.MaxKeptBytes
	if d.maxKept <= 0 {
		d.maxKept = DefaultMaxKeptBytes
	}
}

// Release returns every payload buffer to the pool and every reservation to
// the Budget, and resets the decoding state (chunk streams, chunk size,
// counters), keeping the configuration and the SetNow stamp. Any
// Message previously returned by Feed is invalid afterwards. Call it when the
// connection closes; the Decoder may then be reused, after Init if the
// configuration should change.
func (d *Decoder) Release() {
	for i := range d.streams {
		d.unhold(&d.streams[i])
		d.pool.put(d.streams[i].bufp)
	}
	clear(d.streams)
	d.streams = d.streams[:0]
	d.kept, d.dropIdx = 0, -1
	d.small = [64]int32{}
	clear(d.big)
	d.chunkSize = DefaultChunkSize
	d.state = stateHeader
	d.chunkRem = 0
	d.cur = 0
	d.ph = parsedHeader{}
	d.nhdr = 0
	d.carryOff, d.carryLen = 0, 0
	d.msg = Message{}
	d.received = 0
	d.window = 0
	d.lastAck = 0
	d.err = nil
}

// Feed consumes bytes from p and stops as soon as one complete message is
// assembled. It returns the number of bytes of p consumed and that message,
// or nil if p was exhausted first (then n == len(p)). When a message is
// returned n may be less than len(p), even 0 (the message was completed by
// bytes held back from an earlier call); the caller feeds the rest next:
//
//	for len(p) > 0 {
//		n, m, err := d.Feed(p)
//		p = p[n:]
//		...
//	}
//
// p may be split anywhere; the Decoder keeps whatever state it needs and
// copies payload bytes, so p may be reused as soon as Feed returns. The
// returned *Message and its Payload are owned by the Decoder and valid until
// the next call to Feed or Release. Protocol control messages (Set Chunk
// Size, Abort, Window Acknowledgement Size) are applied before they are
// returned.
//
// A non-nil error comes from a malformed or hostile stream; it is sticky
// and the connection should be closed. Feed does not allocate once every
// chunk stream's buffer has grown to its message size.
func (d *Decoder) Feed(p []byte) (n int, m *Message, err error) {
	if d.err != nil {
		return 0, nil, d.err
	}
	if d.dropIdx >= 0 {
		d.dropKept()
	}
	for {
		var k int
		if d.carryOff < d.carryLen {
			k, m, err = d.step(d.carry[d.carryOff:d.carryLen])
			d.carryOff += k
			if d.carryOff == d.carryLen {
				d.carryOff, d.carryLen = 0, 0
			}
		} else if n < len(p) {
			k, m, err = d.step(p[n:])
			n += k
		} else {
			break
		}
		if err != nil {
			d.err = err
			break
		}
		if m != nil {
			break
		}
	}
	d.received += uint64(n)
	return n, m, err
}

// step makes progress on src (never empty): it parses one chunk header or
// copies one run of payload bytes. It returns the bytes of src consumed and
// a message if one was completed.
func (d *Decoder) step(src []byte) (int, *Message, error) {
	if d.state == statePayload {
		return d.copyPayload(src)
	}
	if d.nhdr == 0 {
		// Fast path: the whole header is in src.
		hl, ok, err := d.parseHeader(src)
		if err != nil {
			return 0, nil, err
		}
		if ok {
			m, err := d.applyHeader()
			if err != nil {
				return 0, nil, err
			}
			return hl, m, nil
		}
	}
	// Slow path: accumulate the header in d.hdr across calls.
	old := d.nhdr
	add := copy(d.hdr[old:], src)
	hl, ok, err := d.parseHeader(d.hdr[:old+add])
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		d.nhdr = old + add
		return add, nil, nil
	}
	d.nhdr = 0
	if hl < old {
		// The 4 bytes after a type 3 header were taken in to check for a
		// repeated extended timestamp, and were not one (see parseHeader).
		// Some of them were consumed by earlier calls; they are payload (and
		// perhaps the start of the next chunk) and must be decoded before
		// src. They can only reach here after the old carry has been used
		// up, so carry stays within its 8 bytes.
		var tmp [len(d.carry)]byte
		t := copy(tmp[:], d.hdr[hl:old])
		t += copy(tmp[t:], d.carry[d.carryOff:d.carryLen])
		d.carry, d.carryOff, d.carryLen = tmp, 0, t
		hl = old
	}
	m, err := d.applyHeader()
	if err != nil {
		return 0, nil, err
	}
	return hl - old, m, nil
}

func (d *Decoder) lookup(csid uint32) int {
	if csid < uint32(len(d.small)) {
		return int(d.small[csid]) - 1
	}
	if i, ok := d.big[csid]; ok {
		return int(i)
	}
	return -1
}

func (d *Decoder) addStream(csid uint32) int {
	idx := len(d.streams)
	d.streams = append(d.streams, chunkStream{csid: csid})
	if csid < uint32(len(d.small)) {
		d.small[csid] = int32(idx + 1)
	} else {
		if d.big == nil {
			d.big = make(map[uint32]int32)
		}
		d.big[csid] = int32(idx)
	}
	return idx
}

// ChunkSize returns the current inbound chunk size: DefaultChunkSize until
// the peer sends Set Chunk Size.
func (d *Decoder) ChunkSize() uint32 { return d.chunkSize }

// BytesReceived returns the number of bytes Feed has consumed since Init or
// Release: the count acknowledgements report (section 5.4.3).
func (d *Decoder) BytesReceived() uint64 { return d.received }

// WindowAckSize returns the acknowledgement window: the last Window
// Acknowledgement Size received from the peer or set with SetWindowAckSize,
// 0 (no acknowledgements) until then.
func (d *Decoder) WindowAckSize() uint32 { return d.window }

// SetWindowAckSize sets the acknowledgement window, as a Window
// Acknowledgement Size message from the peer would. 0 turns
// acknowledgements off.
func (d *Decoder) SetWindowAckSize(n uint32) { d.window = n }

// AckDue reports whether an Acknowledgement is due: true once the bytes
// received since the last acknowledgement reach the window (section 5.4.3).
// When it returns true it records the acknowledgement as sent, so the caller
// must then send AppendAck(dst, sequence); sequence is BytesReceived
// truncated to 32 bits, wrapping as the protocol expects.
func (d *Decoder) AckDue() (sequence uint32, due bool) {
	if d.window == 0 || d.received-d.lastAck < uint64(d.window) {
		return 0, false
	}
	d.lastAck = d.received
	return uint32(d.received), true
}
