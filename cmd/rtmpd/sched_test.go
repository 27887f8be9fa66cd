package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/quaverlive/quaver/internal/schedbatch"
)

// TestSchedBatchFlag: with -sched-batch every thread of the daemon runs under
// SCHED_BATCH. The daemon runs in a child process (this test binary again),
// so the policy does not reach the other tests.
func TestSchedBatchFlag(t *testing.T) {
	if os.Getenv("QUAVER_SCHED_CHILD") == "1" {
		schedChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSchedBatchFlag$", "-test.v")
	cmd.Env = append(os.Environ(), "QUAVER_SCHED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{"threads under SCHED_BATCH", "--- PASS: TestSchedBatchFlag"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

func schedChild(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-sched-batch", "-rtmp", "127.0.0.1:0", "-http", "", "-admin", "", "-loops", "1"}, nil, io.Discard, &logs, func(d *daemon) { ready <- d })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if p, err := schedbatch.Policy(tid); err == nil && p != unix.SCHED_BATCH {
			t.Errorf("thread %d: policy %d", tid, p)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	t.Log(logs.String())
}
