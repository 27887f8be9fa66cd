package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStatOwnPid(t *testing.T) {
	st, err := readStat(fmt.Sprintf("/proc/%d/stat", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.PPID, os.Getppid())
	}
	if st.CPU < 0 {
		t.Errorf("cpu %v", st.CPU)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("VmRSS %d, VmHWM %d", m.RSS, m.HWM)
	}
}

func TestParseStatFormats(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50 ticks.
	line := []byte("1234 (a (b) c) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000 10\n")
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 77 || st.CPU != 3*time.Second {
		t.Errorf("got %+v", st)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S y 1 1 0 -1 0 0 0 0 0 a b"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
	m, err := parseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	if err != nil || m.RSS != 1<<20 || m.HWM != 2<<20 {
		t.Errorf("parseStatus = %+v, %v", m, err)
	}
}

func TestProcTreeIncludesChildren(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Skip("sleep:", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	tree, err := procTree(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree[0] != os.Getpid() || !slices.Contains(tree, cmd.Process.Pid) {
		t.Fatalf("tree %v lacks self %d or child %d", tree, os.Getpid(), cmd.Process.Pid)
	}
	s, _, err := sumTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	if s.Procs < 2 || s.RSS <= 0 {
		t.Errorf("sample %+v", s)
	}
	if _, err := procTree(1 << 30); err == nil {
		t.Error("procTree of a missing pid succeeded")
	}
	if selfCPU() <= 0 {
		t.Error("selfCPU is 0")
	}
}

func TestParseMachineStat(t *testing.T) {
	b := []byte("cpu  100 20 30 1000 5 1 2 7 0 0\ncpu0 50 10 15 500 2 0 1 3 0 0\nintr 1\n")
	m, err := parseMachineStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Busy != 1530*time.Millisecond || m.Steal != 70*time.Millisecond || m.Cores != 1 {
		t.Errorf("got %+v", m)
	}
	if _, err := parseMachineStat([]byte("cpu0 1 2 3\n")); err == nil {
		t.Error("no cpu line accepted")
	}
	if _, err := readMachineCPU(); err != nil {
		t.Error(err)
	}
}

// TestTreeSamplerWalksOnDemand: the background samples read the tree found
// last and walk /proc only when a process of it has exited; the samples
// taken on demand walk every time.
func TestTreeSamplerWalksOnDemand(t *testing.T) {
	walks := 0
	findTree = func(pid int) ([]int, error) { walks++; return procTree(pid) }
	defer func() { findTree = procTree }()
	s := &treeSampler{pid: os.Getpid()}
	if ts := s.sample(); ts.Procs < 1 || ts.RSS <= 0 || walks != 1 {
		t.Fatalf("on demand: sample %+v after %d walks", ts, walks)
	}
	for range 3 {
		s.background()
	}
	if walks != 1 {
		t.Errorf("3 background samples walked /proc %d times, want 0", walks-1)
	}
	s.tree = append(s.tree, 1<<30) // a process of the tree exits
	s.background()
	if walks != 2 || slices.Contains(s.tree, 1<<30) {
		t.Errorf("after an exit: %d walks, tree %v", walks, s.tree)
	}
	s.sample()
	if walks != 3 || s.err != nil || s.peak() <= 0 {
		t.Errorf("on demand again: %d walks, err %v, peak %d", walks, s.err, s.peak())
	}
}
