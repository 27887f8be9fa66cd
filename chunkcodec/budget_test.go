package chunkcodec

import (
	"errors"
	"sync"
	"testing"
)

// bgMsg encodes a video message of n bytes on csid at the default chunk size
// and returns it cut into its chunks.
func bgMsg(csid uint32, n int) [][]byte {
	h := Header{ChunkStreamID: csid, TypeID: TypeVideo, StreamID: 1}
	wire := AppendMessage(nil, h, ccPayload(n, byte(csid)), DefaultChunkSize)
	var chunks [][]byte
	start := 0
	for _, end := range ccChunkEnds(h, n, DefaultChunkSize) {
		chunks = append(chunks, wire[start:end])
		start = end
	}
	return chunks
}

func bgCat(parts ...[]byte) []byte {
	var w []byte
	for _, p := range parts {
		w = append(w, p...)
	}
	return w
}

// bgOp is one step on one of two Decoders sharing a Budget.
type bgOp struct {
	dec     int   // which decoder
	now     int64 // SetNow before the step
	wire    []byte
	release bool // Release instead of feeding
	init    bool // Init (same config) instead of feeding

	err        error // expected error of this step's Feed calls
	used       int64 // expected Budget.Used after the step
	oldest     int64 // expected OldestPartial of this decoder...
	partial    bool  // ...and whether there is one
	skipOldest bool  // do not check OldestPartial (after an error)
}

// bgCases: the shared budget counts the capacity of partial-message buffers,
// is shared across decoders, and is returned on completion, Abort, Release
// and Init; OldestPartial follows interleaved chunk streams.
func bgCases() []struct {
	name  string
	limit int64
	ops   []bgOp
} {
	m1000 := bgMsg(4, 1000) // 8 chunks; buffer 1024 (one 1000-byte growth, pool class 1 KiB)
	m300 := bgMsg(6, 300)   // 3 chunks; buffer 512
	m300b := bgMsg(4, 300)  // same sizes on chunk stream 4
	big := bgMsg(8, 10000)  // buffer grows 4096 -> 8192 -> 16384 (class of 10000)
	empty := bgMsg(5, 0)    // a zero-length message: never partial
	abort4 := AppendAbort(nil, 4)
	second := bgMsg(4, 10) // a later, short message on chunk stream 4
	return []struct {
		name  string
		limit int64
		ops   []bgOp
	}{
		{"partial message reserves its buffer capacity, completion returns it", 1 << 20, []bgOp{
			{wire: m1000[0], used: 1024, partial: true},
			{wire: bgCat(m1000[1:4]...), used: 1024, partial: true},
			{wire: bgCat(m1000[4:]...), used: 0},
		}},
		{"capacity, not length: growth is reserved step by step", 1 << 20, []bgOp{
			{wire: big[0], used: 4096, partial: true},
			{wire: bgCat(big[1:32]...), used: 4096, partial: true}, // 32 * 128 = 4096 bytes: full
			{wire: big[32], used: 8192, partial: true},
			{wire: bgCat(big[33:65]...), used: 16384, partial: true},
			{wire: bgCat(big[65:]...), used: 0},
		}},
		{"zero-length message holds nothing", 1, []bgOp{
			{wire: bgCat(empty...), used: 0},
		}},
		{"exhausted across two decoders", 2048, []bgOp{
			{dec: 0, wire: m1000[0], used: 1024, partial: true},
			{dec: 1, wire: m1000[0], used: 2048, partial: true},
			{dec: 0, wire: m300[0], err: ErrBudgetExceeded, used: 2048, skipOldest: true},
			{dec: 1, wire: bgCat(m1000[1:]...), used: 1024},
			{dec: 0, release: true, used: 0},
			{dec: 0, wire: m300[0], used: 512, partial: true},
		}},
		{"Release returns the reservation", 1 << 20, []bgOp{
			{wire: bgCat(m1000[0], m300[0]), used: 1536, partial: true},
			{release: true, used: 0},
		}},
		{"Init returns the reservation", 1 << 20, []bgOp{
			{wire: bgCat(m1000[0], m300[0]), used: 1536, partial: true},
			{init: true, used: 0},
		}},
		{"Abort returns the reservation", 1 << 20, []bgOp{
			{wire: bgCat(m1000[0], m300[0]), used: 1536, partial: true},
			{wire: abort4, used: 512, partial: true},
		}},
		{"a kept buffer is charged when the next message starts", 1 << 20, []bgOp{
			{wire: bgCat(m1000...), used: 0},
			{wire: second[0][:12], used: 1024, partial: true}, // header only: message begun
			{wire: second[0][12:], used: 0},
		}},
		{"budget refuses the growth, not only the start", 4096 + 1024, []bgOp{
			{dec: 1, wire: m1000[0], used: 1024, partial: true},
			{dec: 0, wire: bgCat(big[:32]...), used: 4096 + 1024, partial: true},
			{dec: 0, wire: big[32], err: ErrBudgetExceeded, used: 4096 + 1024, skipOldest: true},
			{dec: 0, release: true, used: 1024},
		}},
		{"OldestPartial across interleaved chunk streams", 0, []bgOp{
			{now: 100, wire: m1000[0], used: 1024, oldest: 100, partial: true},
			{now: 200, wire: m300[0], used: 1536, oldest: 100, partial: true},
			{now: 300, wire: bgCat(m1000[1], m300[1], m1000[2]), used: 1536, oldest: 100, partial: true},
			{now: 400, wire: bgCat(m1000[3:]...), used: 512, oldest: 200, partial: true},
			{now: 500, wire: m300b[0], used: 1024 + 512, oldest: 200, partial: true}, // reuses csid 4's 1 KiB buffer
			{now: 600, wire: m300[2], used: 1024, oldest: 500, partial: true},
			{now: 700, wire: bgCat(m300b[1:]...), used: 0},
		}},
	}
}

func TestBudgetCases(t *testing.T) {
	for _, c := range bgCases() {
		t.Run(c.name, func(t *testing.T) {
			b := NewBudget(c.limit)
			cfg := DecoderConfig{Budget: b}
			decs := [2]*Decoder{NewDecoder(cfg), NewDecoder(cfg)}
			for i, op := range c.ops {
				d := decs[op.dec]
				switch {
				case op.release:
					d.Release()
				case op.init:
					d.Init(cfg)
				default:
					d.SetNow(op.now)
					r := ccFeed(d, op.wire, ccWhole)
					if !ccErrIs(r.err, op.err) {
						t.Fatalf("step %d: err %v, want %v", i, r.err, op.err)
					}
				}
				if u := b.Used(); u != op.used {
					t.Fatalf("step %d: Used %d, want %d", i, u, op.used)
				}
				if op.skipOldest {
					continue
				}
				if s, ok := d.OldestPartial(); ok != op.partial || s != op.oldest {
					t.Fatalf("step %d: OldestPartial = %d, %v; want %d, %v", i, s, ok, op.oldest, op.partial)
				}
			}
			for _, d := range decs {
				d.Release()
			}
			if u := b.Used(); u != 0 {
				t.Fatalf("after Release: Used %d", u)
			}
		})
	}
}

// TestBudgetSplitInvariantAccounting: whatever the split, a completed stream
// leaves nothing reserved, and a decoder never holds more than it reserved.
func TestBudgetSplitInvariantAccounting(t *testing.T) {
	stream := ccAVStream(128, 20)
	for seed := range uint64(10) {
		b := NewBudget(0)
		d := NewDecoder(DecoderConfig{Budget: b})
		r := ccFeed(d, stream, ccRandomSplits(seed))
		if r.err != nil {
			t.Fatal(r.err)
		}
		if u := b.Used(); u != d.ccReservedBytes() || u != 0 {
			t.Fatalf("seed %d: Used %d, decoder reserved %d, want 0", seed, u, d.ccReservedBytes())
		}
	}
}

// ccReservedBytes returns the Budget reservations d holds, checking that each
// equals the buffer of an active chunk stream.
func (d *Decoder) ccReservedBytes() int64 {
	var n int64
	for _, s := range d.streams {
		if d.budget != nil && s.active && s.length > 0 && s.held != int64(cap(s.buf)) {
			panic("active chunk stream reserves a different size than its buffer")
		}
		if !s.active && s.held != 0 {
			panic("idle chunk stream holds a reservation")
		}
		n += s.held
	}
	return n
}

// TestBudgetConcurrent: many goroutines reserving and releasing never push
// Used past twice the limit (fair shares past it) and leave it at zero.
func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(10_000)
	var wg sync.WaitGroup
	var over sync.Once
	failed := false
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				n := int64(1 + (g*31+i)%700)
				if b.reserve(n, 0) {
					if b.Used() > 2*b.Limit() {
						over.Do(func() { failed = true })
					}
					b.release(n, true)
				}
			}
		})
	}
	wg.Wait()
	if failed {
		t.Fatal("Used exceeded the limit")
	}
	if b.Used() != 0 || b.holders.Load() != 0 {
		t.Fatalf("Used %d, holders %d after all releases", b.Used(), b.holders.Load())
	}
}

// TestBudgetFairShare: peers that filled the budget cannot starve one that
// holds little; they are the ones refused.
func TestBudgetFairShare(t *testing.T) {
	const msg = 8 << 20
	b := NewBudget(40 << 20)
	big := bgMsg(6, msg)
	third := len(big) * 3 / 8 // 3 MiB sent: a 4 MiB buffer held
	bigs := make([]*Decoder, 10)
	for i := range bigs {
		bigs[i] = NewDecoder(DecoderConfig{Budget: b})
		for _, c := range big[:third] {
			if _, _, err := bigs[i].Feed(c); err != nil {
				t.Fatalf("big %d: %v", i, err)
			}
		}
	}
	if b.Used() != 40<<20 {
		t.Fatalf("attackers hold %d of the budget, want all of it", b.Used())
	}
	// An honest publisher in the middle of a 100 KB frame.
	small := NewDecoder(DecoderConfig{Budget: b})
	for _, c := range bgMsg(6, 100<<10)[:500] {
		if _, _, err := small.Feed(c); err != nil {
			t.Fatalf("small holder refused: %v", err)
		}
	}
	// A big holder cannot grow past its fair share.
	var err error
	for _, c := range big[third:] {
		if _, _, err = bigs[0].Feed(c); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrBudgetExceeded) {
		t.Fatalf("big holder grew past the budget: %v", err)
	}
	if b.Used() > 2*b.Limit() {
		t.Fatalf("used %d, limit %d", b.Used(), b.Limit())
	}
	small.Release()
	for _, d := range bigs {
		d.Release()
	}
	if b.Used() != 0 || b.holders.Load() != 0 {
		t.Fatalf("used %d holders %d after release", b.Used(), b.holders.Load())
	}
}
