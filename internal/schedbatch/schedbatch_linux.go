package schedbatch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxPasses bounds the walks over /proc/self/task: a thread the runtime
// creates during a walk from a thread not yet changed is caught by the next
// walk; threads created after a walk that changed nothing inherit the policy
// from the thread that created them.
const maxPasses = 8

// policyBatch is SCHED_BATCH as Policy reports it.
const policyBatch = unix.SCHED_BATCH

// Apply sets SCHED_BATCH on every thread of the process, keeping each
// thread's nice value. It returns the number of threads it changed. Threads
// created later inherit the policy. Safe from any goroutine.
func Apply() (int, error) { return setAll(unix.SCHED_BATCH) }

// Reset puts every thread of the process back under SCHED_OTHER (SCHED_NORMAL), the
// default policy (a process started by one under SCHED_BATCH inherits it).
// It returns the number of threads it changed. Safe from any goroutine.
func Reset() (int, error) { return setAll(unix.SCHED_NORMAL) }

// setAll sets policy on every thread, walking until a walk changes none.
func setAll(policy int) (int, error) {
	total := 0
	for range maxPasses {
		n, err := pass(policy)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

// pass changes every thread not yet under policy and returns how many.
func pass(policy int) (int, error) {
	return changeEach(policy, func(tid, cur int) bool { return cur != policy })
}

// changeEach puts every thread for which want(tid, its policy) holds under
// policy and returns how many it changed. Threads that exit meanwhile are
// skipped.
func changeEach(policy int, want func(tid, cur int) bool) (int, error) {
	tids, err := threadIDs()
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, tid := range tids {
		p, err := Policy(tid)
		if errors.Is(err, unix.ESRCH) {
			continue // the thread exited
		}
		if err != nil {
			return changed, err
		}
		if !want(tid, p) {
			continue
		}
		switch errno := setPolicy(tid, policy); errno {
		case 0:
			changed++
		case unix.ESRCH:
		default:
			return changed, fmt.Errorf("schedbatch: thread %d: %w", tid, errno)
		}
	}
	return changed, nil
}

// threadIDs returns the ids of the process's threads.
func threadIDs() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("schedbatch: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// setPolicy puts thread tid under policy (SCHED_BATCH or SCHED_OTHER),
// keeping its nice value.
func setPolicy(tid, policy int) syscall.Errno {
	var param struct{ priority int32 } // must be 0 for both
	_, _, errno := syscall.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param)))
	return errno
}

// ApplySysmon puts the Go runtime's sysmon thread alone under SCHED_BATCH and
// returns its thread id. Safe from any goroutine.
//
// sysmon is the first thread the runtime creates (runtime.main starts it
// before any package's init runs), and Linux hands out thread ids in
// increasing order modulo pid_max, so it is the thread whose id comes first
// after the process id. Its wake-ups are the ones that preempt an event loop
// (see the package comment); no request waits on it, so losing wake-up
// preemption costs nothing, and the process's other threads keep theirs.
func ApplySysmon() (int, error) {
	tid, err := sysmonTID()
	if err != nil {
		return 0, err
	}
	if errno := setPolicy(tid, unix.SCHED_BATCH); errno != 0 {
		return 0, fmt.Errorf("schedbatch: sysmon thread %d: %w", tid, errno)
	}
	return tid, nil
}

// ResetExcept puts every thread but keep that is under SCHED_BATCH back under
// SCHED_OTHER and returns how many it changed. After ApplySysmon, threads
// that sysmon itself creates (it starts an M when it hands off a P and none
// is idle) inherit its policy, and Linux resets only real-time policies on
// fork: a caller that wants sysmon alone under SCHED_BATCH runs this from
// time to time. Safe from any goroutine.
func ResetExcept(keep int) (int, error) {
	return changeEach(unix.SCHED_NORMAL, func(tid, cur int) bool { return tid != keep && cur == unix.SCHED_BATCH })
}

// sysmonTID returns the id of the first thread created after the main one.
func sysmonTID() (int, error) {
	pid := os.Getpid()
	pidMax := 1 << 22 // the kernel's limit on 64-bit systems
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > pid {
			pidMax = v
		}
	}
	tids, err := threadIDs()
	if err != nil {
		return 0, err
	}
	best, bestAfter := 0, pidMax
	for _, tid := range tids {
		if tid == pid {
			continue
		}
		if after := (tid - pid + pidMax) % pidMax; after < bestAfter {
			best, bestAfter = tid, after
		}
	}
	if best == 0 {
		return 0, errors.New("schedbatch: no thread besides the main one")
	}
	return best, nil
}

// Policy returns the scheduling policy of thread tid (unix.SCHED_NORMAL,
// unix.SCHED_BATCH, ...). Safe from any goroutine.
func Policy(tid int) (int, error) {
	r, _, errno := syscall.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("schedbatch: thread %d: %w", tid, errno)
	}
	return int(r) &^ unix.SCHED_RESET_ON_FORK, nil
}
