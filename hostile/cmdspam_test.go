package hostile

import (
	"context"
	"testing"
	"time"
)

// spamBatch is the size of one write of the command spammer.
const spamBatch = 256 << 10

// TestCommandSpammer: a connection that never reads (tiny receive buffer)
// sends 40 MB of unknown commands, each answered with an _error. The server
// must close it, and what it queues for it must stay under a cap.
func TestCommandSpammer(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "6 command spammer", rtmpdOptions{})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), spamDuration)
	defer cancel()
	nc, err := dialRaw(ctx, s.d.rtmpAddr, attackerIP(0), tinyRcvBuf)
	if err != nil {
		t.Fatalf("attacker: %v", err)
	}
	defer nc.Close()
	var b []byte
	var sent, commands int64
	var writeErr error
	for sent < spamBytes && ctx.Err() == nil {
		b = b[:0]
		for len(b) < spamBatch {
			commands++
			b = appendCommand(b, 0, "noSuchCommand", float64(commands))
		}
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := nc.Write(b)
		sent += int64(n)
		if err != nil {
			if isPeerClosed(err) {
				writeErr = err
				break
			}
			if ctx.Err() == nil {
				continue // the server is not reading fast enough: keep pushing until the window ends
			}
		}
	}
	closed := writeErr != nil
	if !closed {
		closed, _ = drainUntilClosed(nc, spamCloseWait, 1<<30)
	}
	s.endAttack()
	_ = nc.Close()
	s.rep.note("spam sent %d MB (%d commands), closed by server: %v", sent>>20, commands, closed)
	s.settle(nil)

	s.checkKeepUp()
	if !closed {
		s.fail("the server did not close a connection that sent %d MB of unknown commands and read none of the replies", sent>>20)
	}
	if grow := s.rep.peak.RSS - s.before.RSS; grow > spamRSSPeak {
		s.fail("child RSS grew by %s MB for one never-reading command spammer (budget %s MB)", mb(grow), mb(spamRSSPeak))
	}
	s.checkSettled()
}
