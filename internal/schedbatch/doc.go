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
// The trade: the process's threads no longer preempt other processes' threads
// when they wake either, so on a core shared with other busy work a wake-up
// can wait for the other thread's time slice (milliseconds). It suits a
// server with cores of its own, which is how rtmpd's -sched-batch documents it.
package schedbatch
