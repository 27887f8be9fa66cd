package main

import (
	"context"
	"fmt"
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
// SCHED_BATCH; by default only the runtime's sysmon thread does (the server's
// Config.SysmonBatch), until shutdown; with -sysmon-batch=false none does. Each daemon runs in a child process (this
// test binary again), so the policies do not reach the other tests.
func TestSchedBatchFlag(t *testing.T) {
	if mode := os.Getenv("QUAVER_SCHED_CHILD"); mode != "" {
		schedChild(t, mode)
		return
	}
	for mode, log := range map[string]string{
		"all":    "threads under SCHED_BATCH",
		"sysmon": "the runtime's monitor thread under SCHED_BATCH",
		"off":    "",
	} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSchedBatchFlag$", "-test.v")
			cmd.Env = append(os.Environ(), "QUAVER_SCHED_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			for _, want := range []string{log, "--- PASS: TestSchedBatchFlag"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// schedChild runs the daemon with mode's flags and checks its threads'
// policies: all under SCHED_BATCH, only sysmon (the first thread after the
// main one), or none.
func schedChild(t *testing.T, mode string) {
	if _, err := schedbatch.Reset(); err != nil { // in case the tests run under SCHED_BATCH
		t.Fatal(err)
	}
	args := []string{"-rtmp", "127.0.0.1:0", "-http", "", "-admin", "", "-loops", "1", "-log-level", "debug"}
	switch mode {
	case "all":
		args = append(args, "-sched-batch")
	case "off":
		args = append(args, "-sysmon-batch=false")
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, nil, io.Discard, &logs, func(d *daemon) { ready <- d })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not start")
	}
	// Threads sysmon creates inherit its policy until the server's next
	// check (every second): with sysmon alone, wait (bounded) for a check to
	// have seen them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		bad := checkPolicies(t, mode)
		if len(bad) == 0 {
			break
		}
		if mode != "sysmon" || time.Now().After(deadline) {
			for _, b := range bad {
				t.Error(b)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if mode == "sysmon" {
		// Shutdown released the hold: every thread is back.
		for _, b := range checkPolicies(t, "off") {
			t.Errorf("after shutdown: %s", b)
		}
	}
	t.Log(logs.String())
}

// checkPolicies returns what is wrong with the threads' policies for mode:
// all under SCHED_BATCH, only sysmon (the first thread after the main one),
// or none.
func checkPolicies(t *testing.T, mode string) []string {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	pid, first := os.Getpid(), 0
	for _, e := range ents {
		if tid, _ := strconv.Atoi(e.Name()); tid > pid && (first == 0 || tid < first) {
			first = tid
		}
	}
	var bad []string
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		p, err := schedbatch.Policy(tid)
		if err != nil {
			continue
		}
		if want := mode == "all" || (mode == "sysmon" && tid == first); (p == unix.SCHED_BATCH) != want {
			bad = append(bad, fmt.Sprintf("%s: thread %d: policy %d (sysmon %d)", mode, tid, p, first))
		}
	}
	return bad
}
