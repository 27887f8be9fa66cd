package hostile

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// partialHeader is a type-0 chunk header on chunk stream 6: a video message of
// length size on message stream 1.
func partialHeader(size int) []byte {
	h := []byte{0x06, 0, 0, 0, byte(size >> 16), byte(size >> 8), byte(size), 9}
	return binary.LittleEndian.AppendUint32(h, 1)
}

// partialAttacker sends all but the last chunk of a partialMessageSize
// message quickly, then one byte a second of the last chunk, until the server
// closes the connection (it returns true) or ctx ends.
func partialAttacker(ctx context.Context, nc net.Conn, sentBytes *atomic.Int64) bool {
	chunks := partialMessageSize / rawChunkSize
	body := make([]byte, rawChunkSize)
	b := append(partialHeader(partialMessageSize), body...)
	for i := 1; i < chunks-1; i++ {
		b = append(b, 0xc6) // type-3 header, chunk stream 6
		b = append(b, body...)
		if len(b) >= 1<<20 {
			if _, err := nc.Write(b); err != nil {
				return isPeerClosed(err)
			}
			sentBytes.Add(int64(len(b)))
			b = b[:0]
		}
	}
	b = append(b, 0xc6) // the last chunk, whose bytes trickle
	if _, err := nc.Write(b); err != nil {
		return isPeerClosed(err)
	}
	sentBytes.Add(int64(len(b)))
	buf := make([]byte, 4096)
	for k := 0; k < rawChunkSize-1 && ctx.Err() == nil; k++ {
		_ = nc.SetReadDeadline(time.Now().Add(time.Second))
		for {
			_, err := nc.Read(buf) // connect's replies, then nothing
			if err != nil {
				if isPeerClosed(err) {
					return true
				}
				break
			}
		}
		if _, err := nc.Write([]byte{0}); err != nil {
			return isPeerClosed(err)
		}
	}
	return false
}

// TestPartialMessages: 50 connections each hold an 8 MiB message one chunk
// short of complete and trickle its last chunk. The server caps the memory
// held in partial messages and closes them within a partial-message deadline.
func TestPartialMessages(t *testing.T) {
	skipUnlessMeasurable(t, true)
	d, _ := time.ParseDuration(partialTimeout)
	wait := d + partialSlack
	s := newScenario(t, "7 partial messages", rtmpdOptions{args: []string{"-partial-timeout", partialTimeout, "-max-partial-bytes", partialBudget}})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var sent atomic.Int64
	var closed, dialErrs atomic.Int64
	var wg sync.WaitGroup
	for i := range partialConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := dialRaw(ctx, s.d.rtmpAddr, attackerIP(i%partialIPs), 0)
			if err != nil {
				dialErrs.Add(1)
				return
			}
			defer nc.Close()
			if partialAttacker(ctx, nc, &sent) {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	s.endAttack()
	s.rep.note("partial-message connections %d (dial errors %d), sent %d MB, closed by server within %v: %d",
		partialConns-dialErrs.Load(), dialErrs.Load(), sent.Load()>>20, wait, closed.Load())
	s.settle(nil)

	s.checkKeepUp()
	if grow := s.rep.peak.RSS - s.before.RSS; grow > partialRSSPeak {
		s.fail("child RSS grew by %s MB holding partial messages (budget %s MB)", mb(grow), mb(partialRSSPeak))
	}
	if open := partialConns - dialErrs.Load() - closed.Load(); open > 0 {
		s.fail("%d of %d connections trickling an unfinished 8 MiB message were still open after %v", open, partialConns-dialErrs.Load(), wait)
	}
	s.checkSettled()
}
