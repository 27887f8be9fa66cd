// Package ratelog is a log/slog handler that a peer cannot flood: every log
// line is rate-limited by its level and message (a token bucket per message),
// and what was held back is reported, with its count, on the next line of that
// message that passes or by Flush.
//
// Messages are the constant strings of our own code; peer data goes into
// attributes, so the number of buckets is bounded by the number of distinct
// messages the program logs (and capped at MaxKeys regardless).
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults.
const (
	// DefaultRate is the sustained lines per second allowed for one message.
	DefaultRate = 5
	// DefaultBurst is how many lines of one message may pass at once.
	DefaultBurst = 20
	// MaxKeys caps the number of distinct messages tracked; beyond it, lines
	// of new messages share one bucket.
	MaxKeys = 4096
)

// Handler wraps another handler with per-message rate limits. Derived handlers
// (WithAttrs, WithGroup) share the limits. Safe from any goroutine.
type Handler struct {
	next slog.Handler
	st   *state
}

type key struct {
	level slog.Level
	msg   string
}

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed uint64
}

type state struct {
	rate, burst float64
	base        slog.Handler // for Flush's summary lines

	mu   sync.Mutex
	keys map[key]*bucket
	over bucket // shared bucket beyond MaxKeys
}

// New returns a handler passing at most rate lines per second (burst at once)
// of each message to next. rate <= 0 or burst <= 0 take the defaults.
func New(next slog.Handler, rate float64, burst int) *Handler {
	if rate <= 0 {
		rate = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	return &Handler{next: next, st: &state{rate: rate, burst: float64(burst), base: next, keys: map[key]*bucket{}}}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler: the record passes when its message's bucket
// has a token; a record that follows held-back ones carries "suppressed".
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	ok, held := h.st.allow(key{r.Level, r.Message}, t)
	if !ok {
		return nil
	}
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Uint64("suppressed", held))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), st: h.st}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st}
}

func (s *state) allow(k key, now time.Time) (bool, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.keys[k]
	if b == nil {
		if len(s.keys) >= MaxKeys {
			b = &s.over
		} else {
			b = &bucket{tokens: s.burst, last: now}
			s.keys[k] = b
		}
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(s.burst, b.tokens+dt*s.rate)
		b.last = now
	}
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	held := b.suppressed
	b.suppressed = 0
	return true, held
}

// Flush writes one summary line for every message with lines held back since
// its last line passed, and forgets messages whose buckets are full again (so
// the map holds only recently active messages). Call it periodically (the
// server does every few seconds). Safe from any goroutine.
func (h *Handler) Flush(ctx context.Context) {
	type held struct {
		k key
		n uint64
	}
	var out []held
	now := time.Now()
	s := h.st
	s.mu.Lock()
	for k, b := range s.keys {
		if b.suppressed > 0 {
			out = append(out, held{k, b.suppressed})
			b.suppressed = 0
			continue
		}
		if b.tokens+now.Sub(b.last).Seconds()*s.rate >= s.burst {
			delete(s.keys, k)
		}
	}
	if s.over.suppressed > 0 {
		out = append(out, held{key{slog.LevelWarn, "(other messages)"}, s.over.suppressed})
		s.over.suppressed = 0
	}
	s.mu.Unlock()
	for _, o := range out {
		r := slog.NewRecord(now, o.k.level, "log lines suppressed", 0)
		r.AddAttrs(slog.String("message", o.k.msg), slog.Uint64("count", o.n))
		_ = s.base.Handle(ctx, r)
	}
}
