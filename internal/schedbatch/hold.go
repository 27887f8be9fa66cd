package schedbatch

import (
	"os"
	"sync"
)

// hold is the process's one sysmon thread, shared by every holder (servers
// of one process): the first HoldSysmon puts it under SCHED_BATCH, the last
// release puts it back.
var hold struct {
	sync.Mutex
	n   int // holders
	tid int // the sysmon thread the hold put under SCHED_BATCH; 0: none
}

// HoldSysmon puts the runtime's sysmon thread alone under SCHED_BATCH
// (ApplySysmon) until every holder has called its release, which then puts
// the process's threads back under SCHED_OTHER. It changes nothing, and
// reports applied false, when the process runs under SCHED_BATCH already
// (someone chose that for every thread) or another holder found it so.
// release is never nil; calling it more than once does nothing more. While
// held, KeepSysmonAlone undoes the policy's inheritance by the threads
// sysmon creates. Safe from any goroutine.
func HoldSysmon() (release func(), applied bool, err error) {
	hold.Lock()
	defer hold.Unlock()
	hold.n++
	release = sync.OnceFunc(releaseSysmon)
	if hold.n > 1 {
		return release, hold.tid != 0, nil
	}
	p, err := Policy(os.Getpid())
	if err != nil || p == policyBatch {
		return release, false, err
	}
	tid, err := ApplySysmon()
	if err != nil {
		return release, false, err
	}
	hold.tid = tid
	return release, true, nil
}

// releaseSysmon ends one hold; the last one puts every thread under
// SCHED_BATCH back under SCHED_OTHER: sysmon, and threads that inherited its
// policy since the last KeepSysmonAlone.
func releaseSysmon() {
	hold.Lock()
	defer hold.Unlock()
	hold.n--
	if hold.n > 0 || hold.tid == 0 {
		return
	}
	hold.tid = 0
	_, _ = ResetExcept(0) // no thread has id 0
}

// KeepSysmonAlone puts the threads that inherited the held sysmon thread's
// SCHED_BATCH (those sysmon created since the last call) back under
// SCHED_OTHER, and returns how many it changed; see ResetExcept. Without a
// hold that applied the policy it does nothing. A holder calls it from time
// to time (the server: every second). Safe from any goroutine.
func KeepSysmonAlone() (int, error) {
	hold.Lock()
	defer hold.Unlock()
	if hold.tid == 0 {
		return 0, nil
	}
	return ResetExcept(hold.tid)
}
