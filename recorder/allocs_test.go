//go:build !race

package recorder

import (
	"testing"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// TestRecordingWritevAllocs checks that the event loop's side of a recording,
// Writev, does not allocate in steady state: it only copies into the queue.
func TestRecordingWritevAllocs(t *testing.T) {
	m := testManager(t, Config{})
	r, err := m.Start("app", "allocs")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { r.Stop(); _ = r.Wait() }()
	feed(t, r, synthStream(1000), true)
	// Grow both queue buffers (the writer swaps them) past what the measured
	// runs write, and let the writer reach its steady state.
	big := flvmux.AppendTag(nil, flvmux.TagVideo, 1000, synthVideo(false, 4<<20, 1))
	for range 2 {
		if _, err := r.Writev([][]byte{big}); err != nil {
			t.Fatal(err)
		}
		waitUntil(recordTimeout, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.q) == 0 })
	}
	time.Sleep(50 * time.Millisecond)
	tag := flvmux.AppendTag(nil, flvmux.TagVideo, 1040, synthVideo(false, synthInterSize, 2))
	bufs := make([][]byte, 1)
	allocs := testing.AllocsPerRun(1000, func() {
		bufs[0] = tag
		if _, err := r.Writev(bufs); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Recording.Writev: %v allocations per call, want 0", allocs)
	}
}

// TestLookupAllocs checks that a recording lookup by stream name, what an event
// loop does for a play or getStreamLength, allocates nothing: no walk, no open.
func TestLookupAllocs(t *testing.T) {
	m := testManager(t, Config{})
	r, err := m.Start("app", "cam")
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, synthStream(2000), true)
	r.Stop()
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if in, err := m.Lookup("app", "cam"); err != nil || in.Duration == 0 {
			t.Fatal(in, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup: %v allocations per call, want 0", allocs)
	}
}

// TestTagReaderAllocs checks that reading a recording's tags, what a VOD play
// does for every tag, allocates nothing once the reader's buffers are sized,
// also for tags that straddle reads.
func TestTagReaderAllocs(t *testing.T) {
	m := testManager(t, Config{})
	_, path := recordFile(t, m, 5000)
	vf := openPath(t, path)
	tr := vf.Tags()
	readAll := func() {
		tr.SeekTag(vf.FirstTag())
		for {
			if _, _, err := tr.Next(); err != nil {
				break
			}
		}
	}
	readAll()
	if allocs := testing.AllocsPerRun(20, readAll); allocs != 0 {
		t.Fatalf("SeekTag and Next over the file: %v allocations, want 0", allocs)
	}
	if allocs := testing.AllocsPerRun(20, func() { vf.KeyframeAt(2500) }); allocs != 0 {
		t.Fatalf("KeyframeAt: %v allocations, want 0", allocs)
	}
}
