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
// concurrent recorders rarely share cache lines. Besides the buckets it keeps
// the exact smallest and largest values, so that no reported percentile lies
// outside them (a bucket's representative value can exceed the largest value
// recorded in it, or fall below the smallest).
type histogram struct {
	shards  [histShards][histBuckets]atomic.Uint64
	max     atomic.Int64
	minPlus atomic.Int64 // smallest value + 1; 0 until the first record
}

// histClampMax caps recorded values so that min+1 cannot overflow.
const histClampMax = math.MaxInt64 - 1

// record adds v (negative values count as 0) to the shard of key.
func (h *histogram) record(key int, v int64) {
	v = min(max(v, 0), histClampMax)
	h.shards[key%histShards][histIndex(uint64(v))].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.minPlus.Load()
		if (m != 0 && v+1 >= m) || h.minPlus.CompareAndSwap(m, v+1) {
			return
		}
	}
}

// histSnapshot is a histogram merged at one moment: the counts, their total
// and the exact extremes.
type histSnapshot struct {
	counts   []uint64
	total    uint64
	min, max uint64 // exact smallest and largest values; 0 when total is 0
}

// snapshot merges the shards. Safe while others record: the extremes are read
// after the counts, and percentile clamps to them, so a percentile never
// exceeds the reported max even when a record is in flight.
func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{counts: make([]uint64, histBuckets)}
	for sh := range h.shards {
		for i := range h.shards[sh] {
			c := h.shards[sh][i].Load()
			s.counts[i] += c
			s.total += c
		}
	}
	s.max = uint64(h.max.Load())
	if m := h.minPlus.Load(); m > 0 {
		s.min = uint64(m - 1)
	}
	return s
}

// percentile returns the nearest-rank p-quantile (0 < p <= 1) of the
// snapshot, within [min, max], or 0 when it is empty.
func (s histSnapshot) percentile(p float64) uint64 {
	if s.total == 0 {
		return 0
	}
	return min(max(histPercentile(s.counts, s.total, p), s.min), s.max)
}

// histPercentile returns the representative value of the bucket holding the
// nearest-rank p-quantile (0 < p <= 1) of merged counts, or 0 when total is 0.
// It may lie outside the recorded values by up to half a bucket: report
// histSnapshot.percentile, which clamps it.
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
