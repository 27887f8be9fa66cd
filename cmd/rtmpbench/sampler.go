package main

// Measurements taken around the measuring window: the server's process tree
// (sampled on demand and in the background for the peak RSS) and this
// process's own heap allocations.

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// treeSampler samples the server's process tree: on demand, and every
// treeSampleEvery in the background for the peak RSS.
type treeSampler struct {
	pid      int
	mu       sync.Mutex
	max      int64
	err      error
	done     chan struct{}
	stopOnce sync.Once
}

// treeSampleEvery is the background sampling period for the peak RSS.
const treeSampleEvery = 500 * time.Millisecond

func (s *treeSampler) start(ctx context.Context) error {
	if s.pid <= 0 {
		return nil
	}
	if _, err := sampleTree(s.pid); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		t := time.NewTicker(treeSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.sample()
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
	}()
	return nil
}

func (s *treeSampler) stop() {
	if s.done != nil {
		s.stopOnce.Do(func() { close(s.done) })
	}
}

// sample takes one sample (a zero sample without a pid).
func (s *treeSampler) sample() treeSample {
	if s.pid <= 0 {
		return treeSample{}
	}
	ts, err := sampleTree(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil && s.err == nil {
		s.err = err
	}
	s.max = max(s.max, ts.RSS)
	return ts
}

// peak returns the largest RSS sum sampled.
func (s *treeSampler) peak() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}

// allocCounts are cumulative heap allocation counters of this process.
type allocCounts struct{ objects, bytes uint64 }

// heapAllocs reads the cumulative heap allocations (it stops the world briefly).
func heapAllocs() allocCounts {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return allocCounts{ms.Mallocs, ms.TotalAlloc}
}
