//go:build !race

package perf

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestAllocsHotPathProfile runs the same rounds in-process with every allocation
// recorded and applies the hot-path check, so `go test ./perf` alone catches a
// new hot-path allocation.
func TestAllocsHotPathProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("profiling run")
	}
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 0
	h := newHotPath(t)
	for range 5000 {
		h.round(t)
	}
	runtime.MemProfileRate = 1
	for range 2000 {
		h.round(t)
	}
	runtime.MemProfileRate = rate
	path := filepath.Join(t.TempDir(), "allocs.pprof")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC() // publish the allocation samples
	if err := writeAllocs(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	found, err := HotAllocs(p, HotPath, SteadyState)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range found {
		t.Errorf("hot-path allocation in %s: %d objects (%d bytes); stack: %v", x.Func, x.Objects, x.Bytes, x.Stack)
	}
}
