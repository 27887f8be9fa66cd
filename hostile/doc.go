// Package hostile is Quaver's hostile-peer suite: end-to-end tests that run
// rtmpd as a child process, attack it from loopback addresses other than
// 127.0.0.1 (slowloris, connection and publisher floods, name churn, lookup
// storms, never-reading viewers, command spam, partial messages, path
// escapes, RTMPS stalls, VOD reconnect storms, log floods) while honest
// clients on 127.0.0.1 publish and play, and assert budgets on what the honest
// clients receive (frame counts) and on what the child process holds (RSS,
// heap, goroutines, file descriptors, CPU seconds, log lines).
//
// The package has only tests; run them with
//
//	go test -count=1 -v ./hostile
//
// or make hostile. HOSTILE_REPORT=FILE appends one markdown table row per
// attack to FILE (HOSTILE_LABEL names the run, e.g. "before"); -v prints the
// same table at the end. HOSTILE_HEAPDUMP=FILE writes the child's heap
// profile at every forced collection (the last one is what the settled server
// holds). The budgets and why each has its value are in budgets_test.go.
//
// The tests skip under the race detector (the attackers and honest clients
// run in the test process, whose slowdown under -race would be measured as the
// server's) and, for the ones that wait for a server timeout, under -short.
package hostile
