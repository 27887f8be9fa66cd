package admission

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name string
		cfg  Config
		run  func(l *Limiter) error
	}{
		{"per-peer cap", Config{PerPeer: 3, Rate: -1}, func(l *Limiter) error {
			for i := range 3 {
				if v := l.Admit(0, "10.0.0.1:1", t0); v != Admitted {
					return fmt.Errorf("conn %d: %v", i, v)
				}
			}
			if v := l.Admit(0, "10.0.0.1:9", t0); v != RefusedPeerConnections {
				return fmt.Errorf("4th: %v", v)
			}
			if v := l.Admit(0, "10.0.0.2:1", t0); v != Admitted {
				return fmt.Errorf("other peer: %v", v)
			}
			l.Release(0, "10.0.0.1:1")
			if v := l.Admit(0, "10.0.0.1:9", t0); v != Admitted {
				return fmt.Errorf("after release: %v", v)
			}
			return nil
		}},
		{"accept rate", Config{PerPeer: -1, Rate: 10, Burst: 5}, func(l *Limiter) error {
			for i := range 5 {
				if v := l.Admit(0, "10.0.0.1:1", t0); v != Admitted {
					return fmt.Errorf("burst %d: %v", i, v)
				}
				l.Release(0, "10.0.0.1:1")
			}
			if v := l.Admit(0, "10.0.0.1:1", t0); v != RefusedPeerRate {
				return fmt.Errorf("past burst: %v", v)
			}
			if v := l.Admit(0, "10.0.0.1:1", t0.Add(100*time.Millisecond)); v != Admitted {
				return fmt.Errorf("after refill: %v", v)
			}
			return nil
		}},
		{"listener share", Config{MaxConnections: 20, Kinds: 2, PerPeer: -1, Rate: -1}, func(l *Limiter) error {
			n := 0
			for l.Admit(0, fmt.Sprintf("10.0.%d.1:1", n), t0) == Admitted {
				n++
			}
			if n != 18 {
				return fmt.Errorf("kind 0 got %d slots, want 18", n)
			}
			if v := l.Admit(0, "10.9.9.9:1", t0); v != RefusedListenerShare {
				return fmt.Errorf("kind 0 past share: %v", v)
			}
			for i := range 2 {
				if v := l.Admit(1, "10.9.9.9:1", t0); v != Admitted {
					return fmt.Errorf("kind 1 conn %d: %v", i, v)
				}
			}
			if v := l.Admit(1, "10.9.9.9:1", t0); v != RefusedServerFull {
				return fmt.Errorf("full: %v", v)
			}
			return nil
		}},
		{"exempt", Config{PerPeer: 1, Rate: -1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, func(l *Limiter) error {
			for range 10 {
				if v := l.Admit(0, "127.0.0.1:5", t0); v != Admitted {
					return fmt.Errorf("exempt refused: %v", v)
				}
			}
			l.Admit(0, "127.0.0.2:5", t0)
			if v := l.Admit(0, "127.0.0.2:5", t0); v != RefusedPeerConnections {
				return fmt.Errorf("non-exempt: %v", v)
			}
			return nil
		}},
		{"ipv6 /64 is one peer", Config{PerPeer: 1, Rate: -1}, func(l *Limiter) error {
			if v := l.Admit(0, "[2001:db8:1:2::1]:5", t0); v != Admitted {
				return fmt.Errorf("first: %v", v)
			}
			if v := l.Admit(0, "[2001:db8:1:2:ffff::9]:5", t0); v != RefusedPeerConnections {
				return fmt.Errorf("same /64: %v", v)
			}
			if v := l.Admit(0, "[2001:db8:1:3::1]:5", t0); v != Admitted {
				return fmt.Errorf("other /64: %v", v)
			}
			return nil
		}},
		{"peer table bounded", Config{PerPeer: -1, Rate: 1, Burst: 1, MaxPeers: 4}, func(l *Limiter) error {
			for i := range 4 {
				l.Admit(0, fmt.Sprintf("10.0.0.%d:1", i), t0)
				l.Release(0, fmt.Sprintf("10.0.0.%d:1", i))
			}
			if v := l.Admit(0, "10.0.0.99:1", t0); v != RefusedPeerTable {
				return fmt.Errorf("table full: %v", v)
			}
			l.Sweep(t0.Add(2 * time.Second))
			if l.Peers() != 0 {
				return fmt.Errorf("sweep kept %d peers", l.Peers())
			}
			if v := l.Admit(0, "10.0.0.99:1", t0.Add(2*time.Second)); v != Admitted {
				return fmt.Errorf("after sweep: %v", v)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(New(c.cfg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
