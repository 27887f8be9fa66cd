package chunkcodec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestDecoderCases(t *testing.T) {
	for _, c := range ccCases() {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(c.cfg)
			got := ccFeed(d, c.wire, ccWhole)
			want := ccResult{msgs: c.msgs}
			if !reflect.DeepEqual(got.msgs, want.msgs) {
				t.Fatalf("messages:\ngot  %v\nwant %v", got, want)
			}
			if !ccErrIs(got.err, c.err) {
				t.Fatalf("error: got %v, want %v", got.err, c.err)
			}
			if c.err == nil && d.BytesReceived() != uint64(len(c.wire)) {
				t.Fatalf("BytesReceived = %d, want %d", d.BytesReceived(), len(c.wire))
			}
		})
	}
}

// TestDecoderSplitInvariance feeds every case whole, one byte at a time and
// in random splits: the messages and the error must be identical.
func TestDecoderSplitInvariance(t *testing.T) {
	for _, c := range ccCases() {
		t.Run(c.name, func(t *testing.T) {
			want := ccFeed(NewDecoder(c.cfg), c.wire, ccWhole)
			splits := map[string]func(int) int{"one byte": ccOneByte}
			for seed := range uint64(20) {
				splits["random "+string(rune('a'+seed))] = ccRandomSplits(seed)
			}
			for name, next := range splits {
				got := ccFeed(NewDecoder(c.cfg), c.wire, next)
				if !got.equal(want) {
					t.Fatalf("%s:\ngot  %v\nwant %v", name, got, want)
				}
			}
		})
	}
}

func TestDecoderAppliesControl(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	if d.ChunkSize() != DefaultChunkSize {
		t.Fatalf("initial chunk size %d", d.ChunkSize())
	}
	wire := AppendSetChunkSize(nil, 4096)
	wire = AppendWindowAckSize(wire, 1000)
	r := ccFeed(d, wire, ccWhole)
	if r.err != nil || len(r.msgs) != 2 {
		t.Fatalf("got %v", r)
	}
	if d.ChunkSize() != 4096 {
		t.Fatalf("chunk size %d, want 4096", d.ChunkSize())
	}
	if d.WindowAckSize() != 1000 {
		t.Fatalf("window %d, want 1000", d.WindowAckSize())
	}
}

func TestDecoderAckDue(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	payload := make([]byte, 1000)
	msg := AppendMessage(nil, Header{ChunkStreamID: 6, TypeID: TypeVideo, StreamID: 1}, payload, 128)

	// No window yet: never due.
	ccFeed(d, msg, ccWhole)
	if _, due := d.AckDue(); due {
		t.Fatal("ack due without a window")
	}

	win := AppendWindowAckSize(nil, 2500)
	ccFeed(d, win, ccWhole)
	// 1000+ bytes of message, 16 of window message: below 2500.
	if _, due := d.AckDue(); due {
		t.Fatal("ack due below the window")
	}
	ccFeed(d, msg, ccWhole)
	ccFeed(d, msg, ccWhole)
	seq, due := d.AckDue()
	if !due || uint64(seq) != d.BytesReceived() {
		t.Fatalf("AckDue = %d, %v; received %d", seq, due, d.BytesReceived())
	}
	if _, due := d.AckDue(); due {
		t.Fatal("ack due twice")
	}

	d.SetWindowAckSize(10)
	ccFeed(d, []byte{0x06}, ccWhole) // 1 byte: not yet
	if _, due := d.AckDue(); due {
		t.Fatal("ack due after 1 byte with window 10")
	}
	d.SetWindowAckSize(1)
	if seq, due := d.AckDue(); !due || uint64(seq) != d.BytesReceived() {
		t.Fatalf("AckDue = %d, %v after SetWindowAckSize(1)", seq, due)
	}
	d.SetWindowAckSize(0)
	ccFeed(d, msg[1:], ccWhole)
	if _, due := d.AckDue(); due {
		t.Fatal("ack due with window 0")
	}
}

// TestDecoderReleaseReuse checks that Release returns buffers to the pool
// and that a released or re-initialised Decoder decodes like a new one.
func TestDecoderReleaseReuse(t *testing.T) {
	pool := NewBufferPool()
	d := NewDecoder(DecoderConfig{Pool: pool})
	cases := ccCases()
	for round := range 3 {
		for _, c := range cases {
			if round == 1 {
				d.Release()
			} else {
				d.Init(DecoderConfig{Pool: pool, MaxMessageSize: c.cfg.MaxMessageSize,
					MaxInboundChunkSize: c.cfg.MaxInboundChunkSize, MaxChunkStreams: c.cfg.MaxChunkStreams})
			}
			if round == 1 && c.cfg != (DecoderConfig{}) {
				continue
			}
			got := ccFeed(d, c.wire, ccRandomSplits(uint64(round)))
			want := ccFeed(NewDecoder(c.cfg), c.wire, ccWhole)
			if !got.equal(want) {
				t.Fatalf("round %d %s:\ngot  %v\nwant %v", round, c.name, got, want)
			}
		}
	}
	d.Release()
	if d.ccHeldBytes() != 0 || len(d.streams) != 0 {
		t.Fatal("Release kept buffers")
	}
}

// TestDecoderPartialLengthGrowth checks that a header claiming a large
// message does not make the decoder allocate the full length up front.
func TestDecoderPartialLengthGrowth(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	wire := ccWire(nil).h0(6, 0, DefaultMaxMessageSize, TypeVideo, 1).data(make([]byte, 100))
	r := ccFeed(d, wire, ccWhole)
	if r.err != nil || len(r.msgs) != 0 {
		t.Fatalf("got %v", r)
	}
	if held := d.ccHeldBytes(); held > growMin {
		t.Fatalf("holding %d bytes after 100 bytes of payload", held)
	}
	// The rest arrives: the message completes intact.
	rest := make([]byte, DefaultMaxMessageSize-100)
	for i := range rest {
		rest[i] = byte(i)
	}
	var w ccWire
	for off := 0; off < len(rest); {
		k := min(len(rest)-off, 128-100)
		if off > 0 {
			k = min(len(rest)-off, 128)
			w = w.h3(6)
		}
		w = w.data(rest[off : off+k])
		off += k
	}
	r = ccFeed(d, w, ccRandomSplits(1))
	if r.err != nil || len(r.msgs) != 1 || r.msgs[0].Length != DefaultMaxMessageSize ||
		!bytes.Equal(r.msgs[0].Payload[100:], rest) {
		t.Fatalf("got %d messages, err %v", len(r.msgs), r.err)
	}
}

// TestDecoderRoundTrip encodes random messages at random chunk sizes and
// decodes them in random splits.
func TestDecoderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []uint32{1, 2, 3, 7, 64, 127, 128, 129, 1000, 4096, 65536}
	for iter := range 300 {
		cs := sizes[rng.IntN(len(sizes))]
		if rng.IntN(4) == 0 {
			cs = 1 + rng.Uint32N(70000)
		}
		var wire []byte
		var want []Message
		if cs != DefaultChunkSize {
			wire = AppendSetChunkSize(wire, cs)
			want = append(want, ccCtl(TypeSetChunkSize, wire[12:16]))
		}
		for range 1 + rng.IntN(10) {
			m := ccRandomMessage(rng, cs)
			before := len(wire)
			wire = AppendMessage(wire, m.Header, m.Payload, cs)
			if got := len(wire) - before; got != EncodedLen(m.Header, len(m.Payload), cs) {
				t.Fatalf("EncodedLen %d, AppendMessage wrote %d", EncodedLen(m.Header, len(m.Payload), cs), got)
			}
			want = append(want, m)
		}
		got := ccFeed(NewDecoder(DecoderConfig{}), wire, ccRandomSplits(uint64(iter)))
		if got.err != nil || !reflect.DeepEqual(got.msgs, want) {
			t.Fatalf("iteration %d, chunk size %d:\ngot  %v\nwant %v", iter, cs, got, ccResult{msgs: want})
		}
	}
}

func ccRandomMessage(rng *rand.Rand, cs uint32) Message {
	var csid uint32
	switch rng.IntN(3) {
	case 0:
		csid = 2 + rng.Uint32N(62)
	case 1:
		csid = 64 + rng.Uint32N(256)
	default:
		csid = 2 + rng.Uint32N(MaxChunkStreamID-1)
	}
	var ts uint32
	switch rng.IntN(3) {
	case 0:
		ts = rng.Uint32N(1 << 24)
	case 1:
		ts = 0xFFFFFF - 2 + rng.Uint32N(4)
	default:
		ts = rng.Uint32()
	}
	typ := []uint8{TypeAudio, TypeVideo, TypeDataAMF0, TypeCommandAMF0, TypeAck, TypeUserControl, TypeAggregate, 0, 255}[rng.IntN(9)]
	n := rng.IntN(int(min(cs*3, 20000)) + 2)
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
	m := ccMsg(csid, ts, typ, rng.Uint32(), p)
	return m
}

func TestDecoderConfigDefaults(t *testing.T) {
	d := NewDecoder(DecoderConfig{MaxMessageSize: 1 << 30, MaxInboundChunkSize: 1 << 31, MaxChunkStreams: 1 << 30})
	if d.maxMessage != MaxMessageLength || d.maxChunk != MaxChunkSize || d.maxStreams != MaxChunkStreamID-1 {
		t.Fatalf("limits not clamped: %d %d %d", d.maxMessage, d.maxChunk, d.maxStreams)
	}
	d.Init(DecoderConfig{})
	if d.maxMessage != DefaultMaxMessageSize || d.maxChunk != DefaultMaxInboundChunkSize || d.maxStreams != DefaultMaxChunkStreams {
		t.Fatalf("defaults: %d %d %d", d.maxMessage, d.maxChunk, d.maxStreams)
	}
}

func TestDecoderErrorsAreSentinels(t *testing.T) {
	for _, c := range ccCases() {
		if c.err == nil {
			continue
		}
		r := ccFeed(NewDecoder(c.cfg), c.wire, ccWhole)
		if !errors.Is(r.err, c.err) {
			t.Errorf("%s: %v is not %v", c.name, r.err, c.err)
		}
	}
}

// ccHeldBytes returns the capacity of all payload buffers d holds.
func (d *Decoder) ccHeldBytes() int {
	n := 0
	for _, s := range d.streams {
		n += cap(s.buf)
	}
	return n
}

// TestMaxBufferedBytes: a peer that opens many chunk streams and leaves a large
// message half-sent on each is stopped at the configured total.
func TestMaxBufferedBytes(t *testing.T) {
	d := NewDecoder(DecoderConfig{MaxMessageSize: 1 << 20, MaxBufferedBytes: 1 << 20, MaxChunkStreams: 64})
	d.Feed(AppendSetChunkSize(nil, 64<<10))
	const cut = 12 + 65536 + 9*(1+65536) // ten whole 64 KiB chunks: 640 KiB of payload
	var wire []byte
	for csid := uint32(3); csid < 6; csid++ {
		msg := AppendMessage(nil, Header{ChunkStreamID: csid, TypeID: TypeVideo, StreamID: 1}, make([]byte, 1<<20), 64<<10)
		wire = append(wire, msg[:cut]...)
	}
	var err error
	for p := wire; len(p) > 0 && err == nil; {
		var n int
		n, _, err = d.Feed(p)
		p = p[n:]
	}
	if !errors.Is(err, ErrBufferedTooLarge) {
		t.Fatalf("err = %v, want ErrBufferedTooLarge", err)
	}
	// Complete messages never count against the limit.
	d2 := NewDecoder(DecoderConfig{MaxMessageSize: 1 << 20, MaxBufferedBytes: 1 << 20})
	for range 8 {
		msg := AppendMessage(nil, Header{ChunkStreamID: 6, TypeID: TypeVideo, StreamID: 1}, make([]byte, 900<<10), DefaultChunkSize)
		for p := msg; len(p) > 0; {
			n, _, err := d2.Feed(p)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
	}
}
