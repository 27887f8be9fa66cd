package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quaverlive/quaver/client"
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
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := run(ctx, args, nil, io.Discard, io.Discard, func(d *daemon) {
			t.Errorf("started on a busy port: %q rtmp %s http %s", args, d.srv.RTMPAddr(), d.srv.HTTPAddr())
		})
		cancel()
		want := tc.key + " " + addr + ": port " + port + " is already in use"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("rtmpd %q: err %v, want %q", args, err, want)
		}
	}
}

// TestReloadOnSIGHUP runs the daemon in-process, changes its config file and
// sends SIGHUP: a new connection sees the new apps (an app that exists only
// after the reload accepts, one removed refuses), an open connection keeps
// its app, the log level changes, a listen address is reported as needing
// a restart, and a broken file changes nothing.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "rtmpd.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rtmp: 127.0.0.1:0\nhttp: \"\"\nlog_level: info\nloops: 1\napps:\n  live: {}\n")
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", cfgPath, "-record-dir", filepath.Join(dir, "rec")}, nil, io.Discard, &logs, func(d *daemon) { ready <- d })
	}()
	var d *daemon
	select {
	case d = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	addr := d.srv.RTMPAddr()
	dial := func(app string) (*client.Conn, error) {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		return client.Dial(dctx, "rtmp://"+addr+"/"+app+"/cam", client.Config{})
	}
	if c, err := dial("extra"); err == nil || !errors.Is(err, client.ErrStatus) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("connect to app extra before the reload: %v; want a refusal", err)
	}
	open, err := dial("live")
	if err != nil {
		t.Fatalf("connect to app live: %v", err)
	}
	defer open.Close()
	if !strings.Contains(logs.String(), "rtmpd started") || !strings.Contains(logs.String(), "rtmp="+addr) {
		t.Errorf("startup log lacks the listener's address:\n%s", logs.String())
	}

	write("rtmp: 127.0.0.1:1\nhttp: \"\"\nlog_level: debug\nloops: 1\napps:\n  extra:\n    record: true\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return strings.Contains(logs.String(), "config reloaded") })
	if c, err := dial("extra"); err != nil {
		t.Errorf("connect to app extra after the reload: %v", err)
	} else {
		c.Close()
	}
	if c, err := dial("live"); err == nil || !errors.Is(err, client.ErrStatus) {
		if c != nil {
			c.Close()
		}
		t.Errorf("connect to app live after it was removed: %v; want a refusal", err)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer pcancel()
	if err := open.Publish(pctx, "cam"); err != nil {
		t.Errorf("publish on the connection opened before the reload (app live): %v", err)
	}
	if d.level.Level() != -4 {
		t.Errorf("log level %v after the reload, want debug", d.level.Level())
	}
	log := logs.String()
	if !strings.Contains(log, `msg="restart needed" key=rtmp running=127.0.0.1:0 config=127.0.0.1:1`) {
		t.Errorf("no restart-needed line for rtmp:\n%s", log)
	}
	if strings.Count(log, "restart needed") != 1 {
		t.Errorf("restart needed for more than the rtmp address:\n%s", log)
	}

	write("rtmp: 127.0.0.1:0\napps:\n  extra:\n    record: maybe\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return strings.Contains(logs.String(), "config reload failed") })
	if !strings.Contains(logs.String(), "apps.extra.record") {
		t.Errorf("the failed reload's log does not name the key:\n%s", logs.String())
	}
	if c, err := dial("extra"); err != nil {
		t.Errorf("connect to app extra after a failed reload: %v", err)
	} else {
		c.Close()
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

// TestVersionFromStamps checks make build's stamps in a checkout where the
// go command records no version control facts (a git worktree).
func TestVersionFromStamps(t *testing.T) {
	defer func(r, tm, m, v string) { stampRevision, stampTime, stampModified, stampVersion = r, tm, m, v }(stampRevision, stampTime, stampModified, stampVersion)
	stampRevision, stampTime, stampModified, stampVersion = "cfabc652fac6f754427b0f7a7ed9202bfaad5ab7", "2026-11-30T03:17:40Z", "false", "cfabc65"
	v := versionOf(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/quaverlive/quaver", Version: "(devel)"}})
	want := buildVersion{Module: "github.com/quaverlive/quaver", Version: "cfabc65", Revision: stampRevision, Time: stampTime, Modified: "false", Go: "go1.26.8"}
	if v != want {
		t.Errorf("version %+v, want %+v", v, want)
	}
}
