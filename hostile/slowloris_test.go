package hostile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// lorisStats is what one slowloris attacker saw.
type lorisStats struct {
	conns    int           // connections opened
	refused  int           // dials that failed
	closed   int           // connections the server closed
	longest  time.Duration // longest life of a connection the server closed
	overdue  int           // connections still open at the end, older than the budget
	oldestUp time.Duration // age of the oldest connection still open at the end
}

// slowloris trickles one byte per second into the RTMP handshake (even i) or
// an HTTP request head (odd i), reconnecting when closed, until ctx ends.
func slowloris(ctx context.Context, d *rtmpd, i int, budget time.Duration) lorisStats {
	var st lorisStats
	addr, trickle := d.rtmpAddr, []byte{3} // C0, then C1 bytes
	if i%2 == 1 {
		addr, trickle = d.httpAddr, []byte("GET /live/honest.flv HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	}
	buf := make([]byte, 512)
	for ctx.Err() == nil && st.conns+st.refused < 100 {
		nc, err := attackerDialer(attackerIP(i%slowlorisIPs), 0).DialContext(ctx, "tcp", addr)
		if err != nil {
			st.refused++
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		st.conns++
		opened := time.Now()
		for k := 0; ; k++ {
			b := byte('a' + k%26)
			if k < len(trickle) {
				b = trickle[k]
			}
			if _, err := nc.Write([]byte{b}); err != nil {
				st.closed++
				st.longest = max(st.longest, time.Since(opened))
				break
			}
			_ = nc.SetReadDeadline(time.Now().Add(time.Second))
			_, err := nc.Read(buf)
			if isPeerClosed(err) {
				st.closed++
				st.longest = max(st.longest, time.Since(opened))
				break
			}
			if ctx.Err() != nil {
				if age := time.Since(opened); age > budget {
					st.overdue++
					st.oldestUp = max(st.oldestUp, age)
				}
				_ = nc.Close()
				return st
			}
		}
		_ = nc.Close()
	}
	return st
}

// TestSlowloris: 300 connections trickle the RTMP handshake or an HTTP head
// one byte a second. Honest viewers keep up, new honest players can play,
// /healthz answers, and every trickler is closed by the handshake timeout.
func TestSlowloris(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "1 slowloris", rtmpdOptions{args: []string{"-handshake-timeout", slowlorisHandshakeTimeout.String()}})
	budget := slowlorisHandshakeTimeout + slowlorisCloseSlack
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), slowlorisDuration)
	defer cancel()
	stats := make([]lorisStats, slowlorisSockets)
	var wg sync.WaitGroup
	for i := range slowlorisSockets {
		wg.Add(1)
		go func() { defer wg.Done(); stats[i] = slowloris(ctx, s.d, i, budget) }()
	}
	// Mid-attack, once every trickler holds a connection: new honest players
	// and a health check.
	time.Sleep(slowlorisHandshakeTimeout / 2)
	var newErrs []error
	var mu sync.Mutex
	var pw sync.WaitGroup
	for i := range slowlorisNewPlayers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			if err := newHonestPlayer(t, s.d, fmt.Sprintf("new#%d", i+1)); err != nil {
				mu.Lock()
				newErrs = append(newErrs, err)
				mu.Unlock()
			}
		}()
	}
	healthErr := s.d.healthz(context.Background(), honestDialBound)
	pw.Wait()
	wg.Wait()
	s.endAttack()

	var sum lorisStats
	for _, st := range stats {
		sum.conns += st.conns
		sum.refused += st.refused
		sum.closed += st.closed
		sum.overdue += st.overdue
		sum.longest = max(sum.longest, st.longest)
		sum.oldestUp = max(sum.oldestUp, st.oldestUp)
	}
	s.rep.note("trickler connections %d, refused dials %d, closed by server %d (longest life %v), still open past %v: %d (oldest %v)",
		sum.conns, sum.refused, sum.closed, sum.longest.Round(time.Millisecond), budget, sum.overdue, sum.oldestUp.Round(time.Millisecond))
	s.settle(nil)

	s.checkKeepUp()
	if len(newErrs) > 0 {
		s.fail("%d of %d new honest players could not play during the slowloris: %v", len(newErrs), slowlorisNewPlayers, errors.Join(newErrs...))
	}
	if healthErr != nil {
		s.fail("/healthz did not answer during the slowloris: %v", healthErr)
	}
	if sum.longest > budget || sum.overdue > 0 {
		s.fail("tricklers outlived the handshake timeout: longest closed after %v, %d still open past %v (budget %v)", sum.longest.Round(time.Millisecond), sum.overdue, budget, budget)
	}
	s.checkSettled()
}

// newHonestPlayer dials from 127.0.0.1, plays the honest stream and waits for
// its first frame, all within honestDialBound plus a GOP.
func newHonestPlayer(t *testing.T, d *rtmpd, label string) error {
	v, err := startRTMPViewer(t, d, honestStream, label)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(honestDialBound)
	for v.Received() == 0 {
		if err := v.Err(); err != nil {
			return fmt.Errorf("%s: ended before its first frame: %w", label, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no frame within %v of play", label, honestDialBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.stop()
	return nil
}
