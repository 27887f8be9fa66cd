package flvmux

// Timeline maps a stream's 32-bit millisecond timestamps to timestamps that
// start at 0 for one reader (an HTTP-FLV viewer, a recording file), with
// serial arithmetic (RFC 1982): each timestamp is placed relative to the newest
// one seen, as a signed 32-bit difference, so the mapping keeps going through
// the 2^31 ms (24.8 days) and 2^32 ms wrap points of the source. A timestamp
// slightly older than the newest (audio interleaved a little behind video) maps
// to its true place; nothing maps below 0. The output wraps at 2^32 ms, as FLV's
// 32-bit timestamps do.
//
// The zero value starts at the first timestamp mapped; Start sets the origin.
// A Timeline belongs to one goroutine at a time.
type Timeline struct {
	lastIn  uint32 // newest source timestamp seen
	lastOut int64  // its output timestamp, before wrapping
	started bool
}

// Start makes origin the source timestamp that maps to 0.
func (t *Timeline) Start(origin uint32) {
	t.lastIn, t.lastOut, t.started = origin, 0, true
}

// Started reports whether the origin is set.
func (t *Timeline) Started() bool { return t.started }

// Map returns the output timestamp of source timestamp ts and advances the
// timeline when ts is newer than any seen before.
func (t *Timeline) Map(ts uint32) uint32 {
	if !t.started {
		t.Start(ts)
		return 0
	}
	d := int32(ts - t.lastIn)
	out := t.lastOut + int64(d)
	if d > 0 {
		t.lastIn, t.lastOut = ts, out
	}
	if out < 0 {
		return 0
	}
	return uint32(out)
}
