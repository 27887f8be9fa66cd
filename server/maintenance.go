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
	heap := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	for {
		select {
		case <-s.stopJanitor:
			s.logLimit.Flush(context.Background())
			return
		case now := <-t.C:
			s.reg.Sweep(now)
			s.admit.Sweep(now)
			s.sh.VODAdmit.Sweep(now)
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

// releaseIdleHeap returns memory to the operating system after a spike (an
// attack, a burst of joiners): when the heap holds more than
// DefaultIdleHeapRelease (and more than the live heap) in free pages and
// garbage not yet collected, it collects and returns the pages at once. On
// an idle server the runtime would otherwise wait for its two-minute forced
// collection and then scavenge slowly, and RSS would stay at its peak for
// minutes. A busy server with a large live heap collects often on its own and
// is left alone.
func releaseIdleHeap(sample []metrics.Sample) {
	metrics.Read(sample)
	for _, v := range sample {
		if v.Value.Kind() != metrics.KindUint64 {
			return
		}
	}
	free, objects, live := sample[0].Value.Uint64(), sample[1].Value.Uint64(), sample[2].Value.Uint64()
	idle := free
	if objects > live {
		idle += objects - live // garbage since the last collection
	}
	if idle > max(DefaultIdleHeapRelease, live) {
		debug.FreeOSMemory()
	}
}

// applyMemoryLimit sets the runtime's soft memory limit when configured.
func (s *Server) applyMemoryLimit() {
	if s.cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(s.cfg.MemoryLimit)
	}
}
