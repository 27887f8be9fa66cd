package main

import (
	"math"
	"math/bits"
	"slices"
	"sync/atomic"
)

// Latency histogram: log-linear buckets, 32 per power of two above 64, so a
// recorded value is reported within 1/64 (about 1.6 %) of itself; values are
// nanoseconds and are capped at histMax.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits // sub-buckets per power of two
	histMaxBits = 40               // values up to 2^40 ns (about 18 minutes)
	histBuckets = (histMaxBits-histSubBits)*histSub + 2*histSub
	// histShards spreads concurrent recorders over separate bucket arrays.
	histShards = 16
)

// histIndex returns the bucket of v (v >= 0).
func histIndex(v uint64) int {
	if v >= 1<<histMaxBits {
		v = 1<<histMaxBits - 1
	}
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	return shift*histSub + int(v>>shift)
}

// histValue returns the representative (middle) value of bucket i.
func histValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	mant := uint64(i%histSub + histSub)
	return mant<<shift + (1<<shift)/2
}

// histogram counts values concurrently: record is safe from any goroutine and
// does not allocate. The shard is chosen by the caller (a player id), so
// concurrent recorders rarely share cache lines.
type histogram struct {
	shards [histShards][histBuckets]atomic.Uint64
	max    atomic.Int64
}

// record adds v (negative values count as 0) to the shard of key.
func (h *histogram) record(key int, v int64) {
	v = max(v, 0)
	h.shards[key%histShards][histIndex(uint64(v))].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// snapshot merges the shards into counts and returns the total.
func (h *histogram) snapshot() (counts []uint64, total uint64) {
	counts = make([]uint64, histBuckets)
	for s := range h.shards {
		for i := range h.shards[s] {
			c := h.shards[s][i].Load()
			counts[i] += c
			total += c
		}
	}
	return counts, total
}

// histPercentile returns the nearest-rank p-quantile (0 < p <= 1) of merged
// counts, or 0 when total is 0.
func histPercentile(counts []uint64, total uint64, p float64) uint64 {
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p * float64(total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return histValue(i)
		}
	}
	return histValue(len(counts) - 1)
}

// percentile returns the nearest-rank p-quantile (0 < p <= 1) of a sorted
// slice, or 0 when it is empty.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sortedCopy returns v sorted ascending (v is not modified).
func sortedCopy(v []float64) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}
