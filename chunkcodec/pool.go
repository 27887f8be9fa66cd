package chunkcodec

import (
	"math/bits"
	"sync"
)

// Size classes of BufferPool: powers of two from 2^poolMinShift (64 B) to
// 2^poolMaxShift (16 MiB, enough for the largest message the 24-bit length
// field can express).
const (
	poolMinShift   = 6
	poolMaxShift   = 24
	poolNumClasses = poolMaxShift - poolMinShift + 1
)

// BufferPool is a size-classed pool of message payload buffers: one
// sync.Pool per power-of-two class from 64 B to 16 MiB. A buffer always has
// exactly its class's capacity, so a 200-byte audio message never pins a
// 1 MiB keyframe buffer and vice versa. (A single self-calibrating pool such
// as bytebufferpool settles on the most frequent size, which for RTMP is the
// small control and audio messages, and then hands undersized buffers to
// video.)
//
// Create one BufferPool per process (or per transport) with NewBufferPool
// and share it between Decoders through DecoderConfig.Pool. A BufferPool is
// safe for concurrent use by any number of goroutines. Buffers are handed
// out to a Decoder, which owns them until Decoder.Release or Decoder.Init
// gives them back; nothing else may hold on to them after that.
type BufferPool struct {
	classes [poolNumClasses]sync.Pool
}

// NewBufferPool returns an empty BufferPool.
func NewBufferPool() *BufferPool { return new(BufferPool) }

// poolClass returns the class index whose buffers hold size bytes, or -1 if
// size exceeds the largest class.
func poolClass(size int) int {
	if size <= 1<<poolMinShift {
		return 0
	}
	c := bits.Len(uint(size-1)) - poolMinShift
	if c >= poolNumClasses {
		return -1
	}
	return c
}

// poolSize returns the capacity of the buffer get returns for size bytes.
func poolSize(size int) int {
	c := poolClass(size)
	if c < 0 {
		return size
	}
	return 1 << (c + poolMinShift)
}

// get returns a buffer whose length and capacity are the class size for at
// least size bytes. A nil pool allocates. The *[]byte handle travels with the
// buffer so that putting it back does not allocate.
func (p *BufferPool) get(size int) *[]byte {
	c := poolClass(size)
	if c < 0 {
		b := make([]byte, size)
		return &b
	}
	if p != nil {
		if v := p.classes[c].Get(); v != nil {
			return v.(*[]byte)
		}
	}
	b := make([]byte, 1<<(c+poolMinShift))
	return &b
}

// poolMaxKept is the largest buffer put keeps: larger ones (messages over
// 1 MiB, which honest peers send rarely and whose chunk streams keep their
// buffer anyway) go to the garbage collector, so a burst of huge messages
// (an attack) does not stay pinned in the pool afterwards.
const poolMaxKept = 1 << 20

// put gives b back to its class. Buffers that do not have a class's exact
// capacity (and every buffer when p is nil) are dropped for the garbage
// collector.
func (p *BufferPool) put(b *[]byte) {
	if p == nil || b == nil {
		return
	}
	n := cap(*b)
	c := poolClass(n)
	if c < 0 || n != 1<<(c+poolMinShift) || n > poolMaxKept {
		return
	}
	*b = (*b)[:n]
	p.classes[c].Put(b)
}
