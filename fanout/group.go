package fanout

import "sync/atomic"

// group is the set of one stream's subscribers that live on one loop. Only the
// owning loop touches subs; writers on other loops only read n and flip pending.
type group struct {
	stream  *Stream               // immutable
	subs    []*Subscriber         // loop-only (the owning loop)
	n       atomic.Int32          // len(subs): written by the owning loop, read by writers
	pending atomic.Bool           // set by whoever pushes the group on the dirty stack, cleared by the loop
	since   atomic.Int64          // hub clock when it became pending (dueAtTick: flush at the next tick)
	next    atomic.Pointer[group] // dirty-stack link (see loopLocal)
	// A pass over subs may run out of time and go on in a later slice
	// (loop-only): resume is where, sliced says it happened in this pass,
	// head is the stream's head when the pass began, and moved says a close
	// between slices moved a subscriber the pass had not served yet to a
	// place it had.
	resume int
	sliced bool
	moved  bool
	head   uint64
}

// flush hands every subscriber of the group what it has pending, from where
// the last slice stopped. It returns false when the clock passed end first:
// the loop then reads its sockets before the next slice (see loopLocal.flush).
func (g *group) flush(l *loopLocal, now, end int64) bool {
	if g.resume == 0 {
		g.head = g.stream.head.Load()
	}
	// Iterate by index: a subscriber closed for slowness is removed in place.
	for i, n := g.resume, 0; i < len(g.subs); n++ {
		if n == sliceCheck {
			n = 0
			if l.hub.clock() > end {
				g.resume, g.sliced = i, true
				return false
			}
		}
		sub := g.subs[i]
		sub.flush(l, now)
		if i < len(g.subs) && g.subs[i] == sub {
			i++
		}
	}
	g.resume = 0
	if g.sliced {
		// Packets that arrived between slices, and a subscriber moved by a
		// close, missed part of this pass: another one catches them.
		again := g.moved || g.stream.head.Load() != g.head
		g.sliced, g.moved = false, false
		if again && g.pending.CompareAndSwap(false, true) {
			l.push(g, now, true)
		}
	}
	return true
}
