// Package admission decides whether a new connection may open: a server-wide
// cap with a share kept for each listener, a cap per peer address, and a
// token-bucket accept rate per peer address. It is the first budget a peer
// meets: one address cannot hold every slot, and a flood on one listener
// cannot lock out the others (the HTTP player port and /healthz stay
// reachable while the RTMP port is flooded).
//
// Peers are keyed by IPv4 address, or by IPv6 /64 prefix (one subscriber's
// allocation). Addresses in Config.Exempt skip the per-peer limits (a local
// reverse proxy, a load generator), not the server-wide cap.
package admission

import (
	"net/netip"
	"sync"
	"time"
)

// Config holds the limits. Zero fields take the defaults; negative ones disable
// that limit.
type Config struct {
	// MaxConnections caps open connections server-wide.
	MaxConnections int
	// Kinds is the number of listener kinds (RTMP, HTTP, RTMPS, ...). Each kind
	// may hold at most MaxConnections minus a reserve (MaxConnections/10, at
	// least 1) for every other kind.
	Kinds int
	// PerPeer caps open connections from one peer (default DefaultPerPeer).
	PerPeer int
	// Rate and Burst are the accept rate per peer: Burst connections at once,
	// then Rate per second (defaults DefaultRate, DefaultBurst).
	Rate  float64
	Burst int
	// MaxPeers caps the peers tracked at once (default DefaultMaxPeers). Past
	// it, connections from untracked peers are refused (the server-wide cap
	// alone could then be taken by one peer).
	MaxPeers int
	// Exempt lists networks the per-peer limits do not apply to.
	Exempt []netip.Prefix
}

// Defaults.
const (
	DefaultPerPeer  = 256
	DefaultRate     = 50
	DefaultBurst    = 200
	DefaultMaxPeers = 1 << 16
)

// Verdict is the outcome of Admit.
type Verdict uint8

// Verdicts.
const (
	Admitted Verdict = iota
	RefusedServerFull
	RefusedListenerShare
	RefusedPeerConnections
	RefusedPeerRate
	RefusedPeerTable
	// NumVerdicts is the number of verdicts, for counters indexed by Verdict.
	NumVerdicts
)

// String names the verdict for logs and metrics labels.
func (v Verdict) String() string {
	switch v {
	case Admitted:
		return "admitted"
	case RefusedServerFull:
		return "server_full"
	case RefusedListenerShare:
		return "listener_share"
	case RefusedPeerConnections:
		return "peer_connections"
	case RefusedPeerRate:
		return "peer_rate"
	case RefusedPeerTable:
		return "peer_table_full"
	}
	return "unknown"
}

type peer struct {
	open   int
	tokens float64
	last   time.Time
}

// Limiter applies a Config. Admit and Release are safe from any goroutine.
type Limiter struct {
	cfg     Config
	reserve int

	mu     sync.Mutex
	total  int
	byKind []int
	peers  map[netip.Addr]*peer
}

// New returns a limiter for cfg.
func New(cfg Config) *Limiter {
	if cfg.Kinds <= 0 {
		cfg.Kinds = 1
	}
	if cfg.PerPeer == 0 {
		cfg.PerPeer = DefaultPerPeer
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	l := &Limiter{cfg: cfg, byKind: make([]int, cfg.Kinds), peers: map[netip.Addr]*peer{}}
	if cfg.MaxConnections > 0 && cfg.Kinds > 1 {
		l.reserve = max(cfg.MaxConnections/10, 1)
	}
	return l
}

// Key returns the peer key of a remote address ("ip:port" or "ip"): the IPv4
// address, or the IPv6 /64 prefix. ok is false when addr does not parse.
func Key(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	var ip netip.Addr
	if err == nil {
		ip = ap.Addr()
	} else if ip, err = netip.ParseAddr(addr); err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

func (l *Limiter) exempt(ip netip.Addr) bool {
	for _, p := range l.cfg.Exempt {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Admit decides on a new connection of listener kind from remote address addr
// at time now. An admitted connection must be released with Release(kind,
// addr) exactly once when it closes.
func (l *Limiter) Admit(kind int, addr string, now time.Time) Verdict {
	ip, ok := Key(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := l.cfg.MaxConnections; m > 0 {
		if l.total >= m {
			return RefusedServerFull
		}
		if l.byKind[kind] >= m-l.reserve*(l.cfg.Kinds-1) {
			return RefusedListenerShare
		}
	}
	if ok && !l.exempt(ip) {
		p := l.peers[ip]
		if p == nil {
			if len(l.peers) >= l.cfg.MaxPeers {
				return RefusedPeerTable
			}
			p = &peer{tokens: float64(l.cfg.Burst), last: now}
			l.peers[ip] = p
		}
		if l.cfg.PerPeer > 0 && p.open >= l.cfg.PerPeer {
			return RefusedPeerConnections
		}
		if l.cfg.Rate > 0 {
			if dt := now.Sub(p.last).Seconds(); dt > 0 {
				p.tokens = min(float64(l.cfg.Burst), p.tokens+dt*l.cfg.Rate)
				p.last = now
			}
			if p.tokens < 1 {
				return RefusedPeerRate
			}
			p.tokens--
		}
		p.open++
	}
	l.total++
	l.byKind[kind]++
	return Admitted
}

// Release returns the slot of an admitted connection.
func (l *Limiter) Release(kind int, addr string) {
	ip, ok := Key(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	l.byKind[kind]--
	if ok {
		if p := l.peers[ip]; p != nil && p.open > 0 {
			p.open--
		}
	}
}

// Sweep forgets peers with no open connection whose bucket is full again, so
// the table holds only peers seen recently. Call it periodically.
func (l *Limiter) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ip, p := range l.peers {
		if p.open == 0 && (l.cfg.Rate <= 0 || p.tokens+now.Sub(p.last).Seconds()*l.cfg.Rate >= float64(l.cfg.Burst)) {
			delete(l.peers, ip)
		}
	}
}

// Open returns the open connections server-wide and of each kind.
func (l *Limiter) Open() (total int, byKind []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, append([]int(nil), l.byKind...)
}

// Peers returns the number of peers tracked.
func (l *Limiter) Peers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}
