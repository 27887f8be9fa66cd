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
//
// Finding the tree means reading the stat file of every process on the
// machine, which takes the tool's core for a millisecond or more: done in
// the background, it held up every player sharing the core twice a second,
// and its allocations were nearly all of the tool's. So the tree is
// found by the samples taken on demand (before the players, at the start
// and at the end of the window) and kept; the background samples read the
// known processes only, and find the tree again only when one has exited.
type treeSampler struct {
	pid      int
	mu       sync.Mutex
	tree     []int // the server's process tree found last
	max      int64
	err      error
	done     chan struct{}
	stopOnce sync.Once
}

// treeSampleEvery is the background sampling period for the peak RSS.
const treeSampleEvery = 500 * time.Millisecond

// findTree finds a process tree (procTree; tests count the walks).
var findTree = procTree

func (s *treeSampler) start(ctx context.Context) error {
	if s.pid <= 0 {
		return nil
	}
	if _, err := s.take(true); err != nil {
		return err
	}
	s.done = make(chan struct{})
	go func() {
		t := time.NewTicker(treeSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.background()
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

// sample takes one sample on demand, finding the process tree again (a zero
// sample without a pid).
func (s *treeSampler) sample() treeSample {
	if s.pid <= 0 {
		return treeSample{}
	}
	ts, _ := s.take(true)
	return ts
}

// background takes one background sample, over the tree found last.
func (s *treeSampler) background() { _, _ = s.take(false) }

// take samples the tree, found again with find (or when none is known yet,
// or a process of it has exited), and records the peak RSS and the first
// error.
func (s *treeSampler) take(find bool) (treeSample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		ts  treeSample
		err error
	)
	gone := true
	if !find && s.tree != nil {
		ts, gone, err = sumTree(s.tree)
	}
	if gone && err == nil {
		if s.tree, err = findTree(s.pid); err == nil {
			ts, _, err = sumTree(s.tree)
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
	s.max = max(s.max, ts.RSS)
	return ts, err
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
