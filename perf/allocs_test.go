//go:build !race

package perf

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/pprof/profile"
)

// TestAllocsHotPathProfile runs the same rounds in-process with every allocation
// recorded and applies the hot-path check, so `go test ./perf` alone catches a
// new hot-path allocation. It checks the difference between the allocation
// profile after the recorded rounds and before them: a change of
// MemProfileRate makes the runtime record the next allocation on each P
// whatever the new rate (so one warm-up allocation can be in the profile),
// and a profile is scaled by the rate when it is written (so that one record
// would read as tens of thousands of objects at the default rate). Both
// snapshots are written at rate 1, unscaled.
func TestAllocsHotPathProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("profiling run")
	}
	rate := runtime.MemProfileRate
	defer func() { runtime.MemProfileRate = rate }()
	runtime.MemProfileRate = 0
	h := newHotPath(t)
	for range 5000 {
		h.round(t)
	}
	runtime.MemProfileRate = 1
	before := allocsSnapshot(t)
	for range 2000 {
		h.round(t)
	}
	after := allocsSnapshot(t)
	before.Scale(-1)
	diff, err := profile.Merge([]*profile.Profile{after, before})
	if err != nil {
		t.Fatal(err)
	}
	found, err := HotAllocs(diff, HotPath, SteadyState)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range found {
		t.Errorf("hot-path allocation in %s: %d objects (%d bytes); stack: %v", x.Func, x.Objects, x.Bytes, x.Stack)
	}
}

// allocsSnapshot returns the process's allocation profile as of now.
func allocsSnapshot(t *testing.T) *profile.Profile {
	t.Helper()
	path := filepath.Join(t.TempDir(), "allocs.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC() // publish the allocation samples
	runtime.GC()
	if err := writeAllocs(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
