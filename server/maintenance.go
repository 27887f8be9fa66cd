package server

import (
	"context"
	"errors"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/quaverlive/quaver/internal/schedbatch"
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
			if s.releaseSysmon != nil {
				s.keepSysmonAlone() // nothing to do unless a hold applied the policy
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

// holdSysmon puts the runtime's sysmon thread under SCHED_BATCH until
// Shutdown (Config.SysmonBatch).
func (s *Server) holdSysmon() {
	if !s.cfg.SysmonBatch {
		return
	}
	const msg = "the runtime's monitor thread keeps its scheduling policy"
	release, applied, err := schedbatch.HoldSysmon()
	s.releaseSysmon = release
	switch {
	case errors.Is(err, schedbatch.ErrUnsupported):
		s.log.Debug(msg, "err", err)
	case err != nil:
		s.log.Warn(msg, "err", err)
	case !applied:
		s.log.Debug(msg, "reason", "the process runs under SCHED_BATCH already")
	default:
		s.log.Debug("the runtime's monitor thread under SCHED_BATCH")
	}
}

// keepSysmonAlone puts threads that inherited sysmon's SCHED_BATCH (those
// sysmon created) back under the default policy, so the event loops, which
// may run on any thread, keep preempting other processes when they wake.
// Janitor-only.
func (s *Server) keepSysmonAlone() {
	if n, err := schedbatch.KeepSysmonAlone(); err != nil {
		s.log.Debug("threads under SCHED_BATCH left as they are", "err", err)
	} else if n > 0 {
		s.log.Debug("threads created by the runtime's monitor thread back under the default policy", "threads", n)
	}
}

// applyMemoryLimit sets the runtime's soft memory limit when configured.
func (s *Server) applyMemoryLimit() {
	if s.cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(s.cfg.MemoryLimit)
	}
}
