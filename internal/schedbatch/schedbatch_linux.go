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

// Apply sets SCHED_BATCH on every thread of the process, keeping each
// thread's nice value. It returns the number of threads it changed. Threads
// created later inherit the policy. Safe from any goroutine.
func Apply() (int, error) {
	total := 0
	for range maxPasses {
		n, err := pass()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

// pass changes every thread not yet under SCHED_BATCH and returns how many.
func pass() (int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, fmt.Errorf("schedbatch: %w", err)
	}
	changed := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := Policy(tid)
		if errors.Is(err, unix.ESRCH) {
			continue // the thread exited
		}
		if err != nil {
			return changed, err
		}
		if p == unix.SCHED_BATCH {
			continue
		}
		switch errno := setBatch(tid); errno {
		case 0:
			changed++
		case unix.ESRCH:
		default:
			return changed, fmt.Errorf("schedbatch: thread %d: %w", tid, errno)
		}
	}
	return changed, nil
}

// setBatch puts thread tid under SCHED_BATCH, keeping its nice value.
func setBatch(tid int) syscall.Errno {
	var param struct{ priority int32 } // must be 0 for SCHED_BATCH
	_, _, errno := syscall.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, uintptr(tid), unix.SCHED_BATCH, uintptr(unsafe.Pointer(&param)))
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
	if errno := setBatch(tid); errno != 0 {
		return 0, fmt.Errorf("schedbatch: sysmon thread %d: %w", tid, errno)
	}
	return tid, nil
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
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0, fmt.Errorf("schedbatch: %w", err)
	}
	best, bestAfter := 0, pidMax
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil || tid == pid {
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

// Policy returns the scheduling policy of thread tid (unix.SCHED_OTHER,
// unix.SCHED_BATCH, ...). Safe from any goroutine.
func Policy(tid int) (int, error) {
	r, _, errno := syscall.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if errno != 0 {
		return 0, fmt.Errorf("schedbatch: thread %d: %w", tid, errno)
	}
	return int(r) &^ unix.SCHED_RESET_ON_FORK, nil
}
