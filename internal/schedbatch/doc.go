// Package schedbatch puts the process's threads under the Linux SCHED_BATCH
// scheduling policy.
//
// Why: with one P (GOMAXPROCS=1, one event loop per core), the Go runtime's
// sysmon thread polls every 20 µs for about a millisecond each time the
// process wakes from idle (the first system call after an idle spell wakes it
// and resets its back-off). On a core shared with the event loop, each of
// those wake-ups preempts the loop: measured at 1000 viewers x 2.5 Mbps, about
// 1,800 context switches a second and 10% of rtmpd's CPU. A SCHED_BATCH
// thread does not preempt the running thread when it wakes, so sysmon runs
// when the loop blocks or its time slice ends instead, and nearly all of that
// cost goes away (perf/profiles/2026-11-30-sched-batch.md).
//
// Apply changes every thread. The trade: the process's threads no longer
// preempt other processes' threads when they wake either, so on a core shared
// with other busy work a wake-up can wait for the other thread's time slice
// (milliseconds). It suits a server with cores of its own, which is how
// rtmpd's -sched-batch documents it.
//
// ApplySysmon changes the sysmon thread alone, which has no such trade: no
// request waits on sysmon, and the event loops keep their wake-up preemption.
// Its wake-ups were the ones preempting the loop, and a loop that is not
// preempted also blocks less often with its P retaken, so the spinning
// thread the runtime starts after each retake goes too: measured at window 0,
// 1000 viewers x 2.5 Mbps, 0.83-0.91 against 0.98-1.01 CPU-s per delivered GB,
// the loop's context switches 160-190 a second against 1,450, and the
// runtime's other threads 1.2% of a core against 9%. HoldSysmon shares it
// between the servers of a process (server.Config.SysmonBatch; rtmpd's
// -sysmon-batch, on by default).
package schedbatch

import "errors"

// ErrUnsupported: SCHED_BATCH exists on Linux only.
var ErrUnsupported = errors.New("schedbatch: SCHED_BATCH is Linux-only")
