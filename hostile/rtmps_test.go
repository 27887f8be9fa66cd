package hostile

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/internal/testcert"
)

// rtmpsStartRead: a TLS attacker reads this long after play (the replies and
// the first media, so the play is on) before it stops reading.
const rtmpsStartRead = time.Second

// selfSignedCert writes a certificate for 127.0.0.1 and its key (PEM) into
// dir and returns their paths.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	return testcert.Files(t, dir)
}

// dialStuckRTMPS plays name over RTMPS from ip with a tiny receive buffer,
// reads for rtmpsStartRead, then never reads again.
func dialStuckRTMPS(ctx context.Context, d *rtmpd, ip net.IP, name string) (net.Conn, int, error) {
	raw, err := attackerDialer(ip, tinyRcvBuf).DialContext(ctx, "tcp", d.rtmpsAddr)
	if err != nil {
		return nil, 0, err
	}
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) // a self-signed test certificate
	_ = tc.SetDeadline(time.Now().Add(attackDialTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, 0, err
	}
	if err := rtmpHandshake(tc, attackDialTimeout); err != nil {
		_ = raw.Close()
		return nil, 0, err
	}
	b := appendConnect(nil, d.rtmpsAddr, "live")
	b = appendCommand(b, 0, "createStream", 2)
	b = appendCommand(b, 1, "play", 0, name, -2000)
	b = chunkcodec.AppendSetBufferLength(b, 1, 3000)
	if _, err := tc.Write(b); err != nil {
		_ = raw.Close()
		return nil, 0, err
	}
	_ = tc.SetDeadline(time.Now().Add(rtmpsStartRead))
	buf := make([]byte, 16<<10)
	got := 0
	for {
		n, err := tc.Read(buf)
		got += n
		if err != nil {
			break
		}
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, got, nil
}

// TestRTMPSNeverReading: RTMPS players (standard-library transport) with a
// tiny receive buffer stop reading. The server drops them, and its goroutines
// and fds come back to the baseline.
func TestRTMPSNeverReading(t *testing.T) {
	skipUnlessMeasurable(t, true)
	cert, key := selfSignedCert(t, t.TempDir())
	wait := stallWait()
	s := newScenario(t, "10 RTMPS never-reading", rtmpdOptions{tlsCert: cert, tlsKey: key, args: stallArgs})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), 2*attackDialTimeout)
	defer cancel()
	var mu sync.Mutex
	var players []*stuckPlayer
	var dialErrs []error
	var startBytes int
	var wg sync.WaitGroup
	for i := range rtmpsAttackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, n, err := dialStuckRTMPS(ctx, s.d, attackerIP(i), honestStream)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErrs = append(dialErrs, err)
				return
			}
			startBytes += n
			players = append(players, &stuckPlayer{kind: "rtmps", nc: nc})
		}()
	}
	wg.Wait()
	if len(players) == 0 {
		t.Fatalf("no RTMPS attacker could play: %v", dialErrs)
	}
	conns := waitConns(s.d, s.before.Conns, wait)
	// While the attackers still read nothing: the server must have let go of
	// them on its own (a writer blocked on a full socket must not pin them).
	s.d.forceGC()
	held := s.d.sample()
	closed, total, _ := drainCheck(players)
	s.endAttack()
	for _, p := range players {
		p.close()
	}
	s.rep.note("RTMPS stuck players %d (dial errors %d, %d KB read before stopping), closed by server %d; after the wait, still not reading: connections %.0f, goroutines %.0f, fds %d (baseline %.0f, %.0f, %d)",
		total["rtmps"], len(dialErrs), startBytes>>10, closed["rtmps"], conns, held.Goroutines, held.FDs, s.before.Conns, s.before.Goroutines, s.before.FDs)
	s.settle(nil)

	s.checkKeepUp()
	if closed["rtmps"] < total["rtmps"] {
		s.fail("%d of %d never-reading RTMPS players were still connected %v after they stopped reading", total["rtmps"]-closed["rtmps"], total["rtmps"], wait)
	}
	if held.Goroutines > s.before.Goroutines+goroutineMargin || held.FDs > s.before.FDs+fdMargin {
		s.fail("%v after %d RTMPS players stopped reading, the child still held %.0f goroutines and %d fds (baseline %.0f and %d, +%d/+%d allowed)",
			wait, total["rtmps"], held.Goroutines, held.FDs, s.before.Goroutines, s.before.FDs, goroutineMargin, fdMargin)
	}
	s.checkSettled()
}
