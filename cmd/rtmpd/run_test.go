package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/server"
)

// syncBuffer is a bytes.Buffer that the daemon's log and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStrayArgumentRefused(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-rtmp", "127.0.0.1:0", "serve"}, {"--", "-rtmp"}} {
		var stderr bytes.Buffer
		started := false
		err := run(context.Background(), args, nil, io.Discard, &stderr, func(*daemon) { started = true })
		if err == nil || !strings.Contains(err.Error(), "unexpected argument") || started {
			t.Errorf("rtmpd %q: err %v, started %v; want a refusal before anything starts", args, err, started)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-version"}, nil, &stdout, io.Discard, func(*daemon) { t.Error("-version started a server") }); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, w := range []string{"rtmpd ", "\nmodule github.com/quaverlive/quaver\n", "\nvcs.revision ", "\nvcs.time ", "\nvcs.modified ", "\ngo go1."} {
		if !strings.Contains(out, w) {
			t.Errorf("-version output lacks %q:\n%s", w, out)
		}
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/quaverlive/quaver", Version: "v1.2.3-0.20261130031100-55153a2abcde+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "55153a2abcde0123456789abcdef0123456789ab"},
			{Key: "vcs.time", Value: "2026-11-30T03:11:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var b bytes.Buffer
	versionOf(bi).write(&b)
	for _, w := range []string{
		"rtmpd v1.2.3-0.20261130031100-55153a2abcde+dirty\n",
		"module github.com/quaverlive/quaver\n",
		"vcs.revision 55153a2abcde0123456789abcdef0123456789ab\n",
		"vcs.time 2026-11-30T03:11:00Z\n",
		"vcs.modified true\n",
		"go go1.26.8 ",
	} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, b.String())
		}
	}
}

// TestBusyPortNamed checks that a start on a taken port says which setting
// and port it was, for the RTMP and the HTTP listener.
func TestBusyPortNamed(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		key  string
		args []string
	}{
		{"http", []string{"-rtmp", "127.0.0.1:0", "-http", addr}},
		{"rtmp", []string{"-rtmp", addr, "-http", "127.0.0.1:0"}},
		{"rtmp", []string{"-rtmp", addr, "-http", "", "-transport", "std"}},
	} {
		args := append(tc.args, "-record-dir", t.TempDir(), "-log-level", "error")
		err := run(context.Background(), args, nil, io.Discard, io.Discard, func(*daemon) { t.Error("started on a busy port") })
		want := tc.key + " " + addr + ": port " + port + " is already in use"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rtmpd %q: err %v, want %q", args, err, want)
		}
	}
}

// TestSetAppsRefusesBadApps checks that a bad app set changes nothing.
func TestSetAppsRefusesBadApps(t *testing.T) {
	srv := server.New(server.Config{RTMPAddr: "127.0.0.1:0"})
	for _, apps := range []map[string]*server.App{{"a/b": {}}, {"": {}}, {"live": nil}} {
		if err := srv.SetApps(apps); err == nil {
			t.Errorf("SetApps(%v) accepted", apps)
		}
	}
}
