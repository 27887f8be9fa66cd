package hostile

import (
	"fmt"
	"testing"
	"time"
)

// scenario is one attack against its own rtmpd with honest traffic: start,
// baseline, attack window (peak sampling), settle, report.
type scenario struct {
	t   *testing.T
	d   *rtmpd
	h   *honest
	rep *report

	before sample
	peak   *peakSampler
	cpu0   time.Duration
	log0   int
	from   int64 // first frame of the attack window
	keep   []keepUp
	start  time.Time // of the attack window
}

// newScenario starts rtmpd with o and the honest publisher and viewers, and
// takes the baseline sample (after a forced GC).
func newScenario(t *testing.T, attack string, o rtmpdOptions) *scenario {
	t.Helper()
	s := &scenario{t: t, rep: &report{attack: attack, keepMin: -1}}
	s.d = startRTMPD(t, o)
	t.Cleanup(func() { s.rep.finish(t) }) // runs before rtmpd's stop (cleanups are LIFO)
	s.h = startHonest(t, s.d)
	s.d.forceGC()
	s.before = s.d.sample()
	s.rep.before, s.rep.after, s.rep.peak = s.before, s.before, s.before
	return s
}

// fail records a budget failure (the first one goes in the report row).
func (s *scenario) fail(format string, args ...any) {
	s.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if s.rep.failure == "" {
		s.rep.failure = msg
	}
	s.t.Error(msg)
}

// beginAttack opens the attack window.
func (s *scenario) beginAttack() {
	for _, v := range s.h.viewers {
		v.resetGap()
	}
	s.from = s.h.pub.frames.Load()
	s.start = time.Now()
	s.cpu0 = s.d.procSample().CPU
	s.log0 = s.d.log.Lines()
	s.peak = startPeak(s.d, s.before)
}

// endAttack closes the attack window: it records the peak and the child's CPU
// during the attack, and each honest viewer's keep-up.
func (s *scenario) endAttack() {
	s.rep.peak = s.peak.Stop()
	// VmHWM is the exact peak of RSS (polling can miss a spike); the baseline
	// was taken when it was still near the start-up RSS.
	s.rep.peak.RSS = max(s.rep.peak.RSS, s.rep.peak.HWM)
	s.rep.cpu = s.rep.peak.CPU - s.cpu0
	if s.peak.scrapeFails > 0 {
		s.rep.note("/metrics unanswered in %d polls", s.peak.scrapeFails)
	}
	to := s.h.pub.frames.Load()
	res := s.h.measure(s.from, to)
	s.rep.keepMin = 1
	for _, k := range res {
		s.rep.keepMin = min(s.rep.keepMin, k.share)
		s.rep.maxGap = max(s.rep.maxGap, k.gap)
	}
	due := int64(time.Since(s.start) * honestFPS / time.Second)
	s.rep.note("publisher sent %d of the %d frames due by the clock", to-s.from, due)
	s.keep = res
}

// checkKeepUp asserts that every honest viewer kept up and is connected, and
// that the honest publisher is still on air.
func (s *scenario) checkKeepUp() {
	s.t.Helper()
	for _, k := range s.keep {
		if k.err != nil {
			s.fail("honest viewer %s was disconnected during the attack: %v", k.viewer, k.err)
			continue
		}
		if k.share < minKeepUp {
			s.fail("honest viewer %s received %.0f%% of the frames published during the attack (budget %.0f%%)", k.viewer, 100*k.share, 100*minKeepUp)
		}
	}
	if err := s.h.pub.Err(); err != nil {
		s.fail("honest publisher dropped during the attack: %v", err)
	}
}

// settle waits (bounded) for goroutines and fds to come back to the baseline,
// plus extra, and records the after sample.
func (s *scenario) settle(extra func(sample) bool) bool {
	ok := func(a sample) bool {
		return a.Goroutines >= 0 && a.Goroutines <= s.before.Goroutines+goroutineMargin &&
			a.FDs <= s.before.FDs+fdMargin && a.RSS <= s.before.RSS+rssMargin && (extra == nil || extra(a))
	}
	a, done := s.d.settle(settleBound, ok)
	s.rep.after = a
	s.rep.logs = s.d.log.Lines() - s.log0
	return done
}

// checkSettled asserts that goroutines and fds came back.
func (s *scenario) checkSettled() {
	s.t.Helper()
	a := s.rep.after
	if a.Goroutines < 0 {
		s.fail("/metrics did not answer after the attack")
		return
	}
	if a.Goroutines > s.before.Goroutines+goroutineMargin {
		s.fail("goroutines did not come back within %v after the attack: %.0f, baseline %.0f (+%d allowed)", settleBound, a.Goroutines, s.before.Goroutines, goroutineMargin)
	}
	if a.FDs > s.before.FDs+fdMargin {
		s.fail("open fds did not come back within %v after the attack: %d, baseline %d (+%d allowed)", settleBound, a.FDs, s.before.FDs, fdMargin)
	}
	if a.RSS > s.before.RSS+rssMargin {
		s.fail("RSS did not come back within %v after the attack: %s MB, baseline %s MB (+%s MB allowed)", settleBound, mb(a.RSS), mb(s.before.RSS), mb(rssMargin))
	}
}
