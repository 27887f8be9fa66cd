package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentile(t *testing.T) {
	cases := []struct {
		name string
		v    []float64
		p    float64
		want float64
	}{
		{"empty", nil, 0.5, 0},
		{"one", []float64{7}, 0.99, 7},
		{"median odd", []float64{1, 2, 3, 4, 5}, 0.5, 3},
		{"median even", []float64{1, 2, 3, 4}, 0.5, 2}, // nearest rank: ceil(0.5*4) = 2nd
		{"p99 of 100", seq(1, 100), 0.99, 99},
		{"p99 of 1000", seq(1, 1000), 0.99, 990},
		{"p100", seq(1, 10), 1, 10},
		{"p0 clamps to first", seq(1, 10), 0, 1},
	}
	for _, tc := range cases {
		if got := percentile(tc.v, tc.p); got != tc.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
	v := []float64{3, 1, 2}
	if s := sortedCopy(v); !slices.Equal(s, []float64{1, 2, 3}) || v[0] != 3 {
		t.Errorf("sortedCopy = %v, input now %v", s, v)
	}
}

func seq(from, to int) []float64 {
	var v []float64
	for i := from; i <= to; i++ {
		v = append(v, float64(i))
	}
	return v
}

func TestHistBuckets(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1e6, 1e9, 1 << 39, 1<<40 - 1, 1 << 40, math.MaxUint64} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("histIndex(%d) = %d (previous %d, buckets %d)", v, i, prev, histBuckets)
		}
		prev = i
		if v < 1<<40 {
			got := histValue(i)
			if err := math.Abs(float64(got)-float64(v)) / math.Max(float64(v), 1); err > 1.0/64 {
				t.Errorf("histValue(histIndex(%d)) = %d: relative error %.4f", v, got, err)
			}
		}
	}
	// Every bucket's value maps back to the bucket.
	for i := range histIndex(1<<40 - 1) {
		if j := histIndex(histValue(i)); j != i {
			t.Fatalf("bucket %d value %d maps to %d", i, histValue(i), j)
		}
	}
}

func TestHistPercentile(t *testing.T) {
	var h histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var exact []float64
	for i := range 20000 {
		v := int64(rng.ExpFloat64() * 2e6) // ns, mean 2 ms
		exact = append(exact, float64(v))
		h.record(i, v)
	}
	h.record(0, -5) // clamps to 0
	exact = append(exact, 0)
	slices.Sort(exact)
	snap := h.snapshot()
	counts, total := snap.counts, snap.total
	if total != uint64(len(exact)) {
		t.Fatalf("total %d, want %d", total, len(exact))
	}
	for _, p := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		got, want := float64(histPercentile(counts, total, p)), percentile(exact, p)
		if math.Abs(got-want) > want/64+1 {
			t.Errorf("p%v: histogram %v, exact %v", p*100, got, want)
		}
	}
	if float64(snap.max) != exact[len(exact)-1] || float64(snap.min) != exact[0] {
		t.Errorf("min %d max %d, want %v %v", snap.min, snap.max, exact[0], exact[len(exact)-1])
	}
	if histPercentile(make([]uint64, histBuckets), 0, 0.5) != 0 {
		t.Error("empty histogram percentile not 0")
	}
}

// TestHistPercentileWithinExtremes reproduces a report whose p99 (19.66 ms)
// exceeded its max (19.64 ms): the p99 fell in the bucket of the largest
// value, whose representative (the bucket's middle) lies above it. No
// percentile may exceed the max or fall below the min.
func TestHistPercentileWithinExtremes(t *testing.T) {
	cases := []struct {
		name   string
		values []int64 // ns
	}{
		{"p99 in the max's bucket", append(repeat(2_000_000, 98), 19_640_000, 19_640_000)},
		{"one value at a bucket's low edge", []int64{19_398_656}},
		{"one value at a bucket's high edge", []int64{19_922_943}},
		{"min above its bucket's middle", append([]int64{19_922_943}, repeat(40_000_000, 5)...)},
		{"small exact values", []int64{3, 5, 64, 65}},
	}
	for _, c := range cases {
		var h histogram
		lo, hi := c.values[0], c.values[0]
		for i, v := range c.values {
			h.record(i, v)
			lo, hi = min(lo, v), max(hi, v)
		}
		s := h.snapshot()
		if s.min != uint64(lo) || s.max != uint64(hi) {
			t.Errorf("%s: extremes %d..%d, want %d..%d", c.name, s.min, s.max, lo, hi)
		}
		for _, p := range []float64{0.001, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			got := s.percentile(p)
			if got > s.max || got < s.min {
				t.Errorf("%s: p%v = %d outside [%d, %d]", c.name, p*100, got, s.min, s.max)
			}
		}
		if got := s.percentile(1); got != uint64(hi) {
			t.Errorf("%s: p100 = %d, want the max %d", c.name, got, hi)
		}
	}
	// The unclamped bucket value (19.66 ms, the bucket's middle) does exceed
	// the max here: the test reproduces
	// the failure it guards against.
	var h histogram
	h.record(0, 19_640_000)
	s := h.snapshot()
	if raw := histPercentile(s.counts, s.total, 0.99); raw <= s.max {
		t.Fatalf("precondition: bucket value %d does not exceed the max %d", raw, s.max)
	}
	var empty histogram
	if s := empty.snapshot(); s.percentile(0.5) != 0 || s.max != 0 || s.min != 0 {
		t.Fatalf("empty snapshot %+v", s)
	}
}

func repeat(v int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
