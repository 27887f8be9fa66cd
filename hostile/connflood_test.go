package hostile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// floodResult is what a connection flood did.
type floodResult struct {
	attempts, accepted, failed int64
	held                       []net.Conn
}

// connFlood connects to addr from floodIPs addresses as fast as floodDialers
// goroutines can, at most floodAttempts times within floodDuration, and holds
// every connection until floodDuration ends. started is closed after half the attempts (or half the
// duration) so that honest checks run in the middle of the flood.
func connFlood(addr string, started chan<- struct{}) *floodResult {
	ctx, cancel := context.WithTimeout(context.Background(), floodDuration)
	defer cancel()
	var attempts, accepted, failed atomic.Int64
	var mu sync.Mutex
	var held []net.Conn
	var once sync.Once
	half := func() { once.Do(func() { close(started) }) }
	timer := time.AfterFunc(floodDuration/2, half)
	defer timer.Stop()
	var wg sync.WaitGroup
	for range floodDialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := attempts.Add(1)
				if n > floodAttempts {
					return
				}
				if n == floodAttempts/2 {
					half()
				}
				nc, err := attackerDialer(attackerIP(int(n)%floodIPs), 0).DialContext(ctx, "tcp", addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				accepted.Add(1)
				mu.Lock()
				held = append(held, nc)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	half()
	<-ctx.Done() // hold what was accepted for the whole flood
	return &floodResult{attempts: min(attempts.Load(), floodAttempts), accepted: accepted.Load(), failed: failed.Load(), held: held}
}

func (f *floodResult) close() {
	for _, c := range f.held {
		_ = c.Close()
	}
}

// honestDuringFlood dials floodNewPlayers new honest players and checks
// /healthz, concurrently; it returns every failure.
func honestDuringFlood(t *testing.T, d *rtmpd, n int) (players []error, health error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := newHonestPlayer(t, d, fmt.Sprintf("new#%d", i+1)); err != nil {
				mu.Lock()
				players = append(players, err)
				mu.Unlock()
			}
		}()
	}
	health = d.healthz(context.Background(), honestDialBound)
	wg.Wait()
	return players, health
}

// TestConnectionFlood: with -max-connections 200, an attacker on 127.0.0.2-5
// opens connections as fast as it can and holds them. Honest new players from
// 127.0.0.1 and /healthz still succeed during the flood; fds come back.
func TestConnectionFlood(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "2 connection flood", rtmpdOptions{args: []string{"-max-connections", fmt.Sprint(floodMaxConnections), "-max-connections-per-ip", floodPerIP}})
	s.beginAttack()
	started := make(chan struct{})
	var fl *floodResult
	var fw sync.WaitGroup
	fw.Add(1)
	go func() { defer fw.Done(); fl = connFlood(s.d.rtmpAddr, started) }()
	<-started
	playerErrs, healthErr := honestDuringFlood(t, s.d, floodNewPlayers)
	fw.Wait()
	s.endAttack()
	fl.close()
	s.rep.note("flood attempts %d, accepted by the kernel %d, failed %d", fl.attempts, fl.accepted, fl.failed)
	s.settle(nil)

	s.checkKeepUp()
	if len(playerErrs) > 0 {
		s.fail("%d of %d new honest players from 127.0.0.1 could not play during the flood: %v", len(playerErrs), floodNewPlayers, errors.Join(playerErrs...))
	}
	if healthErr != nil {
		s.fail("/healthz did not answer during the flood: %v", healthErr)
	}
	s.checkSettled()
}
