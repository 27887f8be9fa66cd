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
	if !inChild(t) {
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
// inChild runs the calling test again in a child process (this test binary),
// whose threads nothing else changed, and reports whether this is the child,
// which then runs the test's body.
func inChild(t *testing.T) bool {
	const env = "QUAVER_SCHEDBATCH_CHILD"
	if os.Getenv(env) == t.Name() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return false
}

func threads(t *testing.T) []int {
	tids, err := threadIDs()
	if err != nil {
		t.Fatal(err)
	}
	return tids
}

// TestHoldSysmon: holds share the sysmon thread; the last release puts every
// thread back; KeepSysmonAlone undoes inheritance; a process under
// SCHED_BATCH already is left as it is. In a child process.
func TestHoldSysmon(t *testing.T) {
	if !inChild(t) {
		return
	}
	if _, err := Reset(); err != nil {
		t.Fatal(err)
	}
	batched := func() map[int]bool {
		m := map[int]bool{}
		for _, tid := range threads(t) {
			if p, err := Policy(tid); err == nil && p == unix.SCHED_BATCH {
				m[tid] = true
			}
		}
		return m
	}
	release1, applied, err := HoldSysmon()
	if err != nil || !applied {
		t.Fatalf("first hold: applied %v, err %v", applied, err)
	}
	sysmon, err := sysmonTID()
	if err != nil {
		t.Fatal(err)
	}
	release2, applied, err := HoldSysmon()
	if err != nil || !applied {
		t.Fatalf("second hold: applied %v, err %v", applied, err)
	}
	if b := batched(); len(b) != 1 || !b[sysmon] {
		t.Fatalf("held: threads under SCHED_BATCH %v, want sysmon %d alone", b, sysmon)
	}

	// A thread that inherited the policy (as one sysmon creates does).
	runtime.LockOSThread()
	me := unix.Gettid()
	if errno := setPolicy(me, unix.SCHED_BATCH); errno != 0 {
		t.Fatal(errno)
	}
	n, err := KeepSysmonAlone()
	runtime.UnlockOSThread()
	if err != nil || n != 1 {
		t.Errorf("KeepSysmonAlone changed %d threads (err %v), want 1", n, err)
	}
	if b := batched(); len(b) != 1 || !b[sysmon] {
		t.Errorf("after KeepSysmonAlone: threads under SCHED_BATCH %v, want sysmon %d alone", b, sysmon)
	}

	release1()
	release1() // a second call is no second release
	if b := batched(); !b[sysmon] {
		t.Errorf("one of two holds released: sysmon %d no longer under SCHED_BATCH", sysmon)
	}
	release2()
	if b := batched(); len(b) != 0 {
		t.Errorf("every hold released: threads under SCHED_BATCH %v", b)
	}
	if n, err := KeepSysmonAlone(); n != 0 || err != nil {
		t.Errorf("KeepSysmonAlone without a hold changed %d threads (err %v)", n, err)
	}

	// Someone put every thread under SCHED_BATCH: a hold leaves it so.
	if _, err := Apply(); err != nil {
		t.Fatal(err)
	}
	release, applied, err := HoldSysmon()
	if err != nil || applied {
		t.Errorf("hold of a process under SCHED_BATCH: applied %v, err %v", applied, err)
	}
	if n, err := KeepSysmonAlone(); n != 0 || err != nil {
		t.Errorf("KeepSysmonAlone of a hold that applied nothing changed %d threads (err %v)", n, err)
	}
	release()
	for _, tid := range threads(t) {
		if p, err := Policy(tid); err == nil && p != unix.SCHED_BATCH {
			t.Errorf("released a hold that applied nothing: thread %d now has policy %d", tid, p)
		}
	}
}
