package hostile

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
)

// Never-reading attackers.
const (
	// drainBound and drainMax bound the final check of one attacker: read what
	// the server still sends, looking for its close.
	drainBound = 3 * time.Second
	drainMax   = 256 << 20
	// wsKey is a fixed Sec-WebSocket-Key (RFC 6455 section 1.3's example).
	wsKey = "dGhlIHNhbXBsZSBub25jZQ=="
)

// stuckPlayer is a connection that plays and then never reads.
type stuckPlayer struct {
	kind string
	nc   net.Conn
	c    *client.Conn // RTMP only
}

func (p *stuckPlayer) close() {
	if p.c != nil {
		_ = p.c.Close()
		return
	}
	_ = p.nc.Close()
}

// dialStuckRTMP plays name from ip with a tiny receive buffer; after Play it
// never reads.
func dialStuckRTMP(ctx context.Context, d *rtmpd, ip net.IP, name string) (*stuckPlayer, error) {
	c, err := client.Dial(ctx, d.rtmpURL(name), attackerConfig(ip, tinyRcvBuf))
	if err != nil {
		return nil, err
	}
	if err := c.Play(ctx, name); err != nil {
		_ = c.Close()
		return nil, err
	}
	return &stuckPlayer{kind: "rtmp", nc: c.RawConn(), c: c}, nil
}

// dialStuckFLV requests name as HTTP-FLV (or WebSocket-FLV) from ip with a
// tiny receive buffer and never reads, not even the response head.
func dialStuckFLV(ctx context.Context, d *rtmpd, ip net.IP, name string, ws bool) (*stuckPlayer, error) {
	nc, err := attackerDialer(ip, tinyRcvBuf).DialContext(ctx, "tcp", d.httpAddr)
	if err != nil {
		return nil, err
	}
	req := "GET /live/" + name + ".flv HTTP/1.1\r\nHost: " + d.httpAddr + "\r\n"
	kind := "httpflv"
	if ws {
		kind = "wsflv"
		req += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return &stuckPlayer{kind: kind, nc: nc}, nil
}

// drainCheck reads every player concurrently (bounded) and returns how many of
// each kind the server had closed, and the bytes read.
func drainCheck(players []*stuckPlayer) (closed map[string]int, total map[string]int, bytes int64) {
	closed, total = map[string]int{}, map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, n := drainUntilClosed(p.nc, drainBound, drainMax)
			mu.Lock()
			total[p.kind]++
			if ok {
				closed[p.kind]++
			}
			bytes += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return closed, total, bytes
}

// waitConns polls /metrics until quaver_connections is at most n or bound
// passes.
func waitConns(d *rtmpd, n float64, bound time.Duration) float64 {
	deadline := time.Now().Add(bound)
	for {
		c := -1.0
		if m, err := d.metrics(); err == nil {
			c = m["quaver_connections"]
			if c <= n {
				return c
			}
		}
		if time.Now().After(deadline) {
			return c
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stallWait is how long to wait for the server to drop a stuck viewer: the
// -stall-timeout the suite passes (stallArgs) plus neverReadSlack.
func stallWait() time.Duration {
	d, _ := time.ParseDuration(stallTimeout)
	return d + neverReadSlack
}

// stallArgs are the rtmpd flags of the stuck-viewer tests.
var stallArgs = []string{"-stall-timeout", stallTimeout}

// TestNeverReadingViewers: 50 RTMP, 10 HTTP-FLV and 10 WebSocket-FLV players
// with a tiny receive buffer play the honest stream and never read. The server
// drops them, its RSS comes back, and honest viewers keep up.
func TestNeverReadingViewers(t *testing.T) {
	skipUnlessMeasurable(t, true)
	wait := stallWait()
	s := newScenario(t, "5 never-reading viewers", rtmpdOptions{args: stallArgs})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), 2*honestDialBound)
	defer cancel()
	var mu sync.Mutex
	var players []*stuckPlayer
	var dialErrs []error
	var wg sync.WaitGroup
	for i := range neverReadRTMP + 2*neverReadFLV {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := attackerIP(i % neverReadIPs)
			var p *stuckPlayer
			var err error
			switch {
			case i < neverReadRTMP:
				p, err = dialStuckRTMP(ctx, s.d, ip, honestStream)
			default:
				p, err = dialStuckFLV(ctx, s.d, ip, honestStream, i >= neverReadRTMP+neverReadFLV)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErrs = append(dialErrs, err)
				return
			}
			players = append(players, p)
		}()
	}
	wg.Wait()
	defer func() {
		for _, p := range players {
			p.close()
		}
	}()
	conns := waitConns(s.d, s.before.Conns, wait)
	closed, total, drained := drainCheck(players)
	s.endAttack()
	s.rep.note("stuck players %d (dial errors %d), closed by server: rtmp %d/%d, httpflv %d/%d, wsflv %d/%d; server connections after the wait %.0f (baseline %.0f); drained %d MB",
		len(players), len(dialErrs), closed["rtmp"], total["rtmp"], closed["httpflv"], total["httpflv"], closed["wsflv"], total["wsflv"], conns, s.before.Conns, drained>>20)
	for _, p := range players {
		p.close()
	}
	rssOK := func(a sample) bool { return a.RSS <= s.before.RSS+neverReadRSSAfter }
	s.settle(rssOK)

	s.checkKeepUp()
	for _, kind := range []string{"rtmp", "httpflv", "wsflv"} {
		if closed[kind] < total[kind] {
			s.fail("%d of %d never-reading %s players were still connected %v after they stopped reading", total[kind]-closed[kind], total[kind], kind, wait)
		}
	}
	if !rssOK(s.rep.after) {
		s.fail("child RSS %s MB did not come back after the never-reading players (baseline %s MB + %s MB allowed)", mb(s.rep.after.RSS), mb(s.before.RSS), mb(neverReadRSSAfter))
	}
	s.checkSettled()
}
