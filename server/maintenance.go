package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Periodic upkeep, owned by the janitor goroutine that Start starts and
// Shutdown waits for.
const (
	janitorPeriod = time.Second
	// logFlushPeriod is how often held-back log lines are summarised.
	logFlushPeriod = 5 * time.Second
	// heapCheckPeriod is how often free heap is considered for release.
	heapCheckPeriod = 5 * time.Second
)

// janitor forgets lingering streams and idle peers, summarises held-back log
// lines and returns freed memory to the operating system.
func (s *Server) janitor() {
	defer close(s.janitorDone)
	t := time.NewTicker(janitorPeriod)
	defer t.Stop()
	var lastFlush, lastHeap time.Time
	heap := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	for {
		select {
		case <-s.stopJanitor:
			s.logLimit.Flush(context.Background())
			return
		case now := <-t.C:
			s.sweepStreams(now)
			s.admit.Sweep(now)
			s.vodAdmit.Sweep(now)
			if now.Sub(lastFlush) >= logFlushPeriod {
				lastFlush = now
				s.logLimit.Flush(context.Background())
			}
			if now.Sub(lastHeap) >= heapCheckPeriod {
				lastHeap = now
				releaseIdleHeap(heap)
			}
		}
	}
}

// releaseIdleHeap returns free heap pages to the operating system when more
// than DefaultIdleHeapRelease of them are held: after a spike (an attack, a
// burst of joiners) the runtime's background scavenger would take minutes.
func releaseIdleHeap(sample []metrics.Sample) {
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > DefaultIdleHeapRelease {
		debug.FreeOSMemory()
	}
}

// applyMemoryLimit sets the runtime's soft memory limit when configured.
func (s *Server) applyMemoryLimit() {
	if s.cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(s.cfg.MemoryLimit)
	}
}
