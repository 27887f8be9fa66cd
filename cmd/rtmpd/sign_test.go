package main

import (
	"bytes"
	"strings"
	"testing"
)

// rtmpd sign mints a token that is an expiry and a signature; bad usage
// exits 2.
func TestSign(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := sign([]string{"-secret", "s", "-app", "live", "-stream", "cam", "-ttl", "10m"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	exp, mac, ok := strings.Cut(strings.TrimSpace(out.String()), ".")
	if !ok || len(exp) < 10 || len(mac) != 64 {
		t.Fatalf("token %q", out.String())
	}
	if code := sign([]string{"-app", "live"}, &out, &errOut); code != 2 {
		t.Fatalf("missing -secret: exit %d", code)
	}
}
