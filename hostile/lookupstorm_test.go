package hostile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Lookup storm media: small recordings, many of them.
const (
	lookupRecordingLength = 2 * time.Second
	lookupFrameBytes      = 1 << 10
	lookupBatch           = 500 // getStreamLength commands per write
)

// writeLookupRecordings fills dir with lookupRecordings finished recordings
// of live/rec-NNN.
func writeLookupRecordings(t *testing.T, dir string) {
	t.Helper()
	for i := range lookupRecordings {
		name := fmt.Sprintf("rec-%03d", i)
		if err := writeRecording(dir, "live/"+name+"-20260101-000000.flv", "live", name, lookupRecordingLength, lookupFrameBytes, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLookupStorm: with 300 recordings on disk, one connection sends 5,000
// getStreamLength calls for missing names while other addresses request
// missing HTTP-FLV names. Child CPU and fds stay bounded, honest viewers keep
// up, and nothing keeps burning CPU once the attacker has left.
func TestLookupStorm(t *testing.T) {
	skipUnlessMeasurable(t, false)
	dir := t.TempDir()
	writeLookupRecordings(t, dir)
	s := newScenario(t, "4 lookup storm", rtmpdOptions{recordDir: dir})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), lookupDuration)
	defer cancel()

	nc, err := dialRaw(ctx, s.d.rtmpAddr, attackerIP(0), 0)
	if err != nil {
		t.Fatalf("attacker: %v", err)
	}
	var replies atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := nc.Read(buf)
			replies.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	sent := 0
	go func() {
		defer wg.Done()
		tag := time.Now().UnixNano()
		var b []byte
		for sent < lookupCommands && ctx.Err() == nil {
			b = b[:0]
			for k := 0; k < lookupBatch && sent < lookupCommands; k++ {
				b = appendCommand(b, 0, "getStreamLength", float64(2+sent), fmt.Sprintf("missing-%x-%d", tag, sent))
				sent++
			}
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := nc.Write(b); err != nil {
				return
			}
		}
	}()
	var httpDone, http404 atomic.Int64
	next := atomic.Int64{}
	for w := range lookupHTTPConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > lookupHTTP {
					return
				}
				code, _, err := httpGet(s.d.httpAddr, attackerIP(1+w), fmt.Sprintf("/live/missing-%d.flv", i), time.Second, 4096)
				if err == nil {
					httpDone.Add(1)
					if code == 404 {
						http404.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	// Give the server the rest of the window to answer, then leave.
	<-ctx.Done()
	_ = nc.Close()
	cpuLeft := s.d.procSample().CPU
	time.Sleep(lookupAfterWindow)
	cpuAfter := s.d.procSample().CPU - cpuLeft
	s.endAttack()
	s.rep.cpu = cpuLeft - s.cpu0
	s.rep.note("getStreamLength sent %d, reply bytes read %d; HTTP answered %d of %d (404: %d); child CPU in the %v after the attacker left %.2fs",
		sent, replies.Load(), httpDone.Load(), lookupHTTP, http404.Load(), lookupAfterWindow, cpuAfter.Seconds())
	s.settle(nil)

	s.checkKeepUp()
	if c := s.rep.cpu.Seconds(); c > lookupCPU {
		s.fail("child used %.2f CPU-s for %d missing-name lookups and %d HTTP 404s (budget %.1f)", c, sent, httpDone.Load(), lookupCPU)
	}
	if s.rep.peak.FDs > s.before.FDs+lookupFDs {
		s.fail("child held %d fds at peak during the lookup storm (baseline %d + %d allowed)", s.rep.peak.FDs, s.before.FDs, lookupFDs)
	}
	if c := cpuAfter.Seconds(); c > lookupCPUAfter {
		s.fail("child kept burning %.2f CPU-s in the %v after the attacker left (budget %.1f)", c, lookupAfterWindow, lookupCPUAfter)
	}
	s.checkSettled()
}
