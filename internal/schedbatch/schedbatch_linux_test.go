package schedbatch

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

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
