package chunkcodec

import "sync/atomic"

// Budget is a byte budget shared by many Decoders (typically one per server):
// it caps the memory held in messages that are still being assembled across
// all connections, where DecoderConfig.MaxBufferedBytes caps it per
// connection. Without it, N peers each holding a partial message just under
// their own cap cost N times that cap, for as long as they trickle bytes.
//
// A Decoder with DecoderConfig.Budget reserves from the budget the capacity
// of each payload buffer that holds a partial message (what is really held,
// not the message length the header claims), as the buffer is taken and as
// it grows, and gives the reservation back when the message completes, is
// aborted (section 5.4.2), or the Decoder is Released or re-Initialised. A
// reservation past the limit fails the Feed with ErrBudgetExceeded unless the
// Decoder stays within its fair share (the limit divided by the Decoders
// holding reservations), so whoever filled the budget is refused, not an
// honest peer that holds little; use stays below twice the limit. Buffers that a chunk stream keeps between messages for
// reuse are not counted: they belong to completed messages and are bounded
// per Decoder by MaxChunkStreams and MaxMessageSize.
//
// Create a Budget with NewBudget and share it by pointer; it must not be
// copied. All methods are safe for concurrent use by any goroutine and do not
// allocate.
type Budget struct {
	limit   int64        // immutable after NewBudget; <= 0 means no limit
	used    atomic.Int64 // bytes reserved by Decoders
	holders atomic.Int64 // Decoders holding a reservation
}

// NewBudget returns a Budget of limit bytes. A limit <= 0 never refuses a
// reservation but still counts (Used reports the bytes held).
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit returns the limit given to NewBudget. Safe from any goroutine.
func (b *Budget) Limit() int64 { return b.limit }

// Used returns the bytes currently reserved by all Decoders sharing b. Safe
// from any goroutine.
func (b *Budget) Used() int64 { return b.used.Load() }

// reserve takes n > 0 bytes for a Decoder that holds held bytes already, or
// reports false (taking nothing). Within the limit every reservation passes.
// Past it, a Decoder may still reserve up to its fair share, the limit
// divided by the Decoders holding a reservation: the peers that filled the
// budget cannot starve one that holds little (an honest publisher in the
// middle of a frame), and they are the ones refused. Total use stays below
// twice the limit: what is reserved past it is at most the sum of fair
// shares, which is the limit.
func (b *Budget) reserve(n, held int64) bool {
	if b.limit <= 0 {
		b.used.Add(n)
		return true
	}
	if held == 0 {
		b.holders.Add(1)
	}
	for {
		u := b.used.Load()
		if n > b.limit-u && held+n > b.limit/max(b.holders.Load(), 1) {
			if held == 0 {
				b.holders.Add(-1)
			}
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release gives back n bytes reserved earlier; done says the Decoder holds
// nothing any more.
func (b *Budget) release(n int64, done bool) {
	b.used.Add(-n)
	if done && b.limit > 0 {
		b.holders.Add(-1)
	}
}
