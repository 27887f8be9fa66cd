package flvmux

import "testing"

func TestTimeline(t *testing.T) {
	cases := []struct {
		name   string
		origin uint32
		in     []uint32
		want   []uint32
	}{
		{"from origin", 1000, []uint32{1000, 1040, 1020, 1080}, []uint32{0, 40, 20, 80}},
		{"before origin clamps to 0", 1000, []uint32{990, 1000, 1010}, []uint32{0, 0, 10}},
		{"through 2^31", 0, []uint32{1<<31 - 10, 1<<31 + 10, 1<<31 + 5}, []uint32{1<<31 - 10, 1<<31 + 10, 1<<31 + 5}},
		{"through the source wrap", 0xFFFFFF00, []uint32{0xFFFFFF00, 0xFFFFFFF0, 0x10, 0x20}, []uint32{0, 0xF0, 0x110, 0x120}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tl Timeline
			tl.Start(c.origin)
			for i, ts := range c.in {
				if got := tl.Map(ts); got != c.want[i] {
					t.Fatalf("Map(%#x) = %#x, want %#x", ts, got, c.want[i])
				}
			}
		})
	}
}

// A long session: 30 days of 40 ms frames starting near 0 keep increasing
// timestamps well past 2^31 ms (the old clamp stamped every tag 0 there).
func TestTimelineLongSession(t *testing.T) {
	var tl Timeline
	tl.Start(5)
	prev := uint32(0)
	const step = 3_600_000 // an hour per step keeps the loop short
	for ts := uint64(5); ts < 30*24*3_600_000; ts += step {
		got := tl.Map(uint32(ts))
		if want := uint32(ts - 5); got != want {
			t.Fatalf("at %d ms: got %d, want %d", ts, got, want)
		}
		if got < prev {
			t.Fatalf("went backwards at %d ms", ts)
		}
		prev = got
	}
}

func TestTimelineZeroValueStartsAtFirst(t *testing.T) {
	var tl Timeline
	if tl.Started() {
		t.Fatal("zero value started")
	}
	if got := tl.Map(777); got != 0 {
		t.Fatalf("first = %d", got)
	}
	if got := tl.Map(800); got != 23 {
		t.Fatalf("second = %d", got)
	}
}
