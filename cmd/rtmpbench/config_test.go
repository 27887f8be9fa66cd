package main

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	ctx := context.Background()
	ok := []string{
		"rtmp://127.0.0.1/live/x", "rtmp://127.9.8.7:1935/live/x", "rtmp://[::1]:1935/live/x",
		"http://localhost:8080/live/x.flv", "ws://[::ffff:127.0.0.1]:80/live/x.flv",
	}
	for _, u := range ok {
		if err := checkLoopbackURL(ctx, u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	bad := []string{"rtmp://10.0.0.1/live/x", "rtmp://192.168.1.1/live/x", "http://8.8.8.8/x.flv", "rtmp://[2001:db8::1]/live/x", "rtmp://0.0.0.0/live/x"}
	for _, u := range bad {
		if err := checkLoopbackURL(ctx, u); !errors.Is(err, errNotLoopback) {
			t.Errorf("%s: got %v, want errNotLoopback", u, err)
		}
	}
	// Run refuses before doing anything.
	_, err := Run(ctx, Config{URL: "rtmp://10.1.2.3/live/x", Publish: true})
	if !errors.Is(err, errNotLoopback) {
		t.Errorf("Run with a remote URL: %v", err)
	}
	// The dialer's guard.
	d := loopbackDialer(0)
	if err := d.Control("tcp", "10.0.0.1:1935", nil); !errors.Is(err, errNotLoopback) {
		t.Errorf("dialer control: %v", err)
	}
	if err := d.Control("tcp", "127.0.0.1:1935", nil); err != nil {
		t.Errorf("dialer control loopback: %v", err)
	}
	if !isLoopback(netip.MustParseAddr("::1")) || isLoopback(netip.MustParseAddr("::")) {
		t.Error("isLoopback")
	}
}

func TestConfigValidate(t *testing.T) {
	ctx := context.Background()
	cases := map[string]Config{
		"no work":        {URL: "rtmp://127.0.0.1/live/x"},
		"http no url":    {URL: "rtmp://127.0.0.1/live/x", Publish: true, HTTPPlayers: 1},
		"fps":            {URL: "rtmp://127.0.0.1/live/x", Publish: true, FPS: 1000},
		"too many":       {URL: "rtmp://127.0.0.1/live/x", Publish: true, RTMPPlayers: MaxPlayers + 1},
		"floor no reads": {Floor: true},
		"floor storm":    {Floor: true, RTMPPlayers: 1, Storm: 1},
		"storm no url":   {HTTPURL: "http://127.0.0.1:8080/live/x.flv", HTTPPlayers: 1, Storm: 1},
		"storm rate":     {URL: "rtmp://127.0.0.1/live/x", Publish: true, Storm: 1, StormRate: -1},
		"storm too many": {URL: "rtmp://127.0.0.1/live/x", Publish: true, RTMPPlayers: MaxPlayers, Storm: 1},
	}
	for name, c := range cases {
		if err := c.withDefaults().validate(ctx); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := Config{HTTPURL: "http://127.0.0.1:8080/live/x.flv"}.withDefaults()
	if c.WSURL != "ws://127.0.0.1:8080/live/x.flv" {
		t.Errorf("derived WSURL %q", c.WSURL)
	}
}

func TestParseFlags(t *testing.T) {
	var stderr strings.Builder
	cfg, out, err := parseFlags([]string{"-url", "rtmp://127.0.0.1/live/x", "-bitrate", "2.5M", "-audio-bitrate", "0", "-ramp", "0", "-json", "o.json"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bitrate != 2_500_000 || cfg.AudioBitrate >= 0 || cfg.Ramp >= 0 || !cfg.Publish || out.json != "o.json" {
		t.Errorf("parsed %+v %+v", cfg, out)
	}
	if cfg.withDefaults().AudioBitrate != 0 {
		t.Error("-audio-bitrate 0 does not disable audio")
	}
	for in, want := range map[string]int64{"500k": 500_000, "1G": 1_000_000_000, "128000": 128_000} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v", in, got, err)
		}
	}
	if code := run([]string{"-h"}, &stderr, &stderr); code != 0 || !strings.Contains(stderr.String(), "loopback") {
		t.Errorf("-h: exit %d", code)
	}
}
