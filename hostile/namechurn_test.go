package hostile

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// churnBatch iterations are written per write call.
const churnBatch = 100

// churnResult is what a name churn did.
type churnResult struct {
	iterations int
	bytes      int64
	writeErr   error
	replies    atomic.Int64  // reply bytes read
	closed     chan struct{} // closed when the server closed the connection
	nc         net.Conn
}

// nameChurn connects from ip and repeats createStream, play(unique name),
// deleteStream, pipelined without waiting for replies (a reader drains them),
// at most churnIterations times within churnDuration.
func nameChurn(ctx context.Context, d *rtmpd, ip net.IP) (*churnResult, error) {
	nc, err := dialRaw(ctx, d.rtmpAddr, ip, 0)
	if err != nil {
		return nil, err
	}
	r := &churnResult{closed: make(chan struct{}), nc: nc}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := nc.Read(buf)
			r.replies.Add(int64(n))
			if err != nil {
				close(r.closed)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, churnDuration)
	defer cancel()
	tag := time.Now().UnixNano()
	var b []byte
	for r.iterations < churnIterations && ctx.Err() == nil {
		b = b[:0]
		for range churnBatch {
			i := r.iterations
			start := -2000 // live or recorded, as players send by default
			if i%2 == 1 {
				start = -1000 // live only (ffplay -rtmp_live live)
			}
			b = appendCommand(b, 0, "createStream", float64(2+3*i))
			b = appendCommand(b, 1, "play", 0, fmt.Sprintf("churn-%x-%d", tag, i), start)
			b = appendCommand(b, 0, "deleteStream", 0, 1)
			r.iterations++
		}
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := nc.Write(b)
		r.bytes += int64(n)
		if err != nil {
			r.writeErr = err
			break
		}
	}
	return r, nil
}

// TestNameChurn: one connection plays 50,000 new names (createStream, play,
// deleteStream, pipelined). The child's heap stays bounded and comes back,
// honest viewers keep up, and the attacker is closed past a per-connection
// names cap.
func TestNameChurn(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "3 name churn", rtmpdOptions{})
	s.beginAttack()
	start := time.Now()
	r, err := nameChurn(context.Background(), s.d, attackerIP(0))
	if err != nil {
		t.Fatalf("attacker: %v", err)
	}
	// The window lasts churnDuration (the server works through the pipelined
	// commands after they are written) plus churnCloseWait for the close.
	closed := false
	select {
	case <-r.closed:
		closed = true
	case <-time.After(time.Until(start.Add(churnDuration + churnCloseWait))):
	}
	s.endAttack()
	_ = r.nc.Close()
	s.rep.note("churned %d names (%d MB written, %d MB of replies read, write error %v), attacker closed by server: %v", r.iterations, r.bytes>>20, r.replies.Load()>>20, r.writeErr, closed)
	heapOK := func(a sample) bool { return a.Heap >= 0 && a.Heap <= s.before.Heap+churnHeapAfter }
	s.settle(heapOK)

	s.checkKeepUp()
	if s.rep.peak.Heap > churnHeapPeak {
		s.fail("child heap reached %s MB during the name churn (budget %s MB)", mbf(s.rep.peak.Heap), mbf(churnHeapPeak))
	}
	if !heapOK(s.rep.after) {
		s.fail("child heap %s MB did not come back within %v after the name churn (baseline %s MB + %s MB allowed)", mbf(s.rep.after.Heap), settleBound, mbf(s.before.Heap), mbf(churnHeapAfter))
	}
	if !closed {
		s.fail("the server did not close a connection that played %d names (a per-connection names cap)", r.iterations)
	}
	s.checkSettled()
}
