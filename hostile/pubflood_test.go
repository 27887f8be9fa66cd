package hostile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// pubFloodDialers publishers connect concurrently.
const pubFloodDialers = 32

// TestPublisherFlood: 300 attackers publish distinct names with small frames
// beside the honest publisher. The honest publisher is never dropped, its
// viewers keep up, and the heap stays bounded.
func TestPublisherFlood(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "8 publisher flood", rtmpdOptions{})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), pubFloodDuration)
	defer cancel()
	var published, refused, dropped, frames atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, pubFloodDialers)
	tag := time.Now().UnixNano()
	for i := range pubFloodPublishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			name := fmt.Sprintf("flood-%x-%d", tag, i)
			c, err := client.Dial(ctx, s.d.rtmpURL(name), attackerConfig(attackerIP(i%pubFloodIPs), 0))
			if err == nil {
				if err = c.Publish(ctx, name); err != nil {
					_ = c.Close()
				}
			}
			<-sem
			if err != nil {
				refused.Add(1)
				return
			}
			defer c.Close()
			published.Add(1)
			go func() { // the one reader: acknowledgements, and the server's close
				for {
					if _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			_ = c.WriteMessage(chunkcodec.TypeVideo, 0, videoSeqHeader)
			tick := time.NewTicker(time.Second / pubFloodFPS)
			defer tick.Stop()
			var v []byte
			for k := 0; ctx.Err() == nil; k++ {
				v = appendVideo(v[:0], k%pubFloodFPS == 0, uint32(k), pubFloodFrameBytes, nil)
				if err := c.WriteMessage(chunkcodec.TypeVideo, uint32(k*1000/pubFloodFPS), v); err != nil {
					if ctx.Err() == nil {
						dropped.Add(1)
					}
					return
				}
				frames.Add(1)
				select {
				case <-ctx.Done():
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
	s.endAttack()
	s.rep.note("attacker publishers on air %d, refused %d, dropped mid-flood %d, attacker frames %d", published.Load(), refused.Load(), dropped.Load(), frames.Load())
	heapOK := func(a sample) bool { return a.Heap >= 0 && a.Heap <= s.before.Heap+pubFloodHeapPeak }
	s.settle(heapOK)

	s.checkKeepUp() // includes: the honest publisher was never dropped
	if grow := s.rep.peak.Heap - s.before.Heap; grow > pubFloodHeapPeak {
		s.fail("child heap grew by %s MB with %d flood publishers (budget %s MB)", mbf(grow), published.Load(), mbf(pubFloodHeapPeak))
	}
	s.checkSettled()
}
