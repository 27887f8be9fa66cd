package schedbatch

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestApply: after Apply every thread of the process is under SCHED_BATCH, and
// so is every thread the runtime creates afterwards.
func TestApply(t *testing.T) {
	if _, err := Apply(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		if p, err := Policy(tid); err == nil && p != unix.SCHED_BATCH {
			t.Errorf("thread %d: policy %d after Apply", tid, p)
		}
	}
	if n, err := Apply(); err != nil || n != 0 {
		t.Errorf("second Apply changed %d threads (err %v), want 0", n, err)
	}

	// Locked goroutines that stay locked need threads of their own, so the
	// runtime creates new ones; they must have inherited the policy.
	const locked = 8
	var wg sync.WaitGroup
	ready := make(chan int, locked)
	release := make(chan struct{})
	for range locked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // not unlocked: the thread exits with the goroutine
			ready <- unix.Gettid()
			<-release
		}()
	}
	seen := map[int]bool{}
	for range locked {
		tid := <-ready
		seen[tid] = true
		if p, err := Policy(tid); err != nil || p != unix.SCHED_BATCH {
			t.Errorf("thread %d created after Apply: policy %d (err %v)", tid, p, err)
		}
	}
	close(release)
	wg.Wait()
	if len(seen) != locked {
		t.Errorf("%d distinct threads for %d locked goroutines", len(seen), locked)
	}
}

func TestPolicyOfGoneThread(t *testing.T) {
	if _, err := Policy(1 << 30); err == nil {
		t.Error("Policy of a thread that does not exist: no error")
	}
}

// TestApplySysmon: ApplySysmon changes one thread, and that thread is sysmon:
// the one found sleeping in nanosleep(2) (the runtime's usleep, which sysmon
// calls between its rounds) while a goroutine keeps a P busy. It runs in a
// child process (this test binary again), whose threads nothing else changed.
func TestApplySysmon(t *testing.T) {
	if os.Getenv("QUAVER_SYSMON_CHILD") != "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestApplySysmon$", "-test.v")
		cmd.Env = append(os.Environ(), "QUAVER_SYSMON_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestApplySysmon") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	// The parent may have run TestApply first: this process inherited
	// SCHED_BATCH from it.
	if _, err := Reset(); err != nil {
		t.Fatal(err)
	}
	tid, err := ApplySysmon()
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range threads(t) {
		p, err := Policy(other)
		switch {
		case err != nil:
		case other == tid && p != unix.SCHED_BATCH:
			t.Errorf("sysmon thread %d: policy %d", tid, p)
		case other != tid && p == unix.SCHED_BATCH:
			t.Errorf("thread %d is not sysmon and is under SCHED_BATCH", other)
		}
	}

	// Keep a P busy so that sysmon runs its rounds, and look at what each
	// thread is in (the first field of /proc/self/task/TID/syscall).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		x := 0
		for {
			select {
			case <-stop:
				return
			default:
				for i := range 1 << 16 {
					x += i
				}
			}
		}
	}()
	sleeping := map[int]int{}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 2000 && time.Now().Before(deadline) && sleeping[tid] < 20; i++ {
		for _, th := range threads(t) {
			b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(th) + "/syscall")
			if err == nil && strings.HasPrefix(string(b), strconv.Itoa(unix.SYS_NANOSLEEP)+" ") {
				sleeping[th]++
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for th, n := range sleeping {
		if th != tid && n >= sleeping[tid] {
			t.Errorf("thread %d was seen in nanosleep %d times, the chosen thread %d %d times", th, n, tid, sleeping[tid])
		}
	}
	t.Logf("sysmon %d; threads seen in nanosleep: %v", tid, sleeping)
	if sleeping[tid] == 0 {
		t.Errorf("thread %d was never seen in nanosleep: not sysmon (%v)", tid, sleeping)
	}

	// Threads that inherited sysmon's policy go back with ResetExcept.
	if _, err := Apply(); err != nil {
		t.Fatal(err)
	}
	if n, err := ResetExcept(tid); err != nil || n == 0 {
		t.Fatalf("ResetExcept changed %d threads (err %v)", n, err)
	}
	for _, th := range threads(t) {
		if p, err := Policy(th); err == nil && (p == unix.SCHED_BATCH) != (th == tid) {
			t.Errorf("after ResetExcept(%d): thread %d has policy %d", tid, th, p)
		}
	}
}

// threads returns the ids of the process's threads.
func threads(t *testing.T) []int {
	tids, err := threadIDs()
	if err != nil {
		t.Fatal(err)
	}
	return tids
}
