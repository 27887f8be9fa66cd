package ratelog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestRateLimitsPerMessage(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), 1, 3)
	log := slog.New(h).With("conn", 1)
	for i := range 1000 {
		log.Warn("connection refused", "peer", i)
		log.Info("play", "i", i)
	}
	lines := strings.Count(buf.String(), "\n")
	// Both messages pass their burst of 3 (plus at most one refill each while the loop runs).
	if lines < 6 || lines > 10 {
		t.Fatalf("%d lines passed, want about 6:\n%s", lines, buf.String())
	}
	buf.Reset()
	h.Flush(context.Background())
	out := buf.String()
	if !strings.Contains(out, "log lines suppressed") || !strings.Contains(out, `message="connection refused"`) || !strings.Contains(out, `message=play`) {
		t.Fatalf("flush summary missing:\n%s", out)
	}
	buf.Reset()
	h.Flush(context.Background())
	if buf.Len() != 0 {
		t.Fatalf("second flush repeated the summary:\n%s", buf.String())
	}
}

func TestKeysBounded(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil), 1, 1)
	log := slog.New(h)
	for i := range MaxKeys + 100 {
		log.Info(strings.Repeat("x", i%50) + string(rune('a'+i%26)) + string(rune(i)))
	}
	if n := len(h.st.keys); n > MaxKeys {
		t.Fatalf("%d keys tracked, cap %d", n, MaxKeys)
	}
}
