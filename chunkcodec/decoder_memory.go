package chunkcodec

import "fmt"

// What a Decoder holds: payload buffers that grow with the bytes received,
// their reservations in the shared Budget, the buffers kept between messages,
// and the start stamps of partial messages.

// grow replaces st's buffer with one of at least need bytes, keeping the
// bytes received so far. It doubles (from growMin) but never beyond the
// message length, so a message that claims a large length and sends little
// costs little. The new buffer's capacity is reserved from the Budget before
// it is taken.
func (d *Decoder) grow(st *chunkStream, need uint32) error {
	want := max(need, uint32(len(st.buf))*2, growMin)
	want = max(min(want, st.length), need)
	if err := d.hold(st, poolSize(int(want))); err != nil {
		return err
	}
	nb := d.pool.get(int(want))
	copy(*nb, st.buf[:st.got])
	d.pool.put(st.bufp)
	st.bufp = nb
	st.buf = *nb
	return nil
}

// hold raises st's Budget reservation to size bytes (the capacity its partial
// message holds). Reservations only grow while the message is partial;
// unhold returns them.
func (d *Decoder) hold(st *chunkStream, size int) error {
	if d.budget == nil {
		return nil
	}
	n := int64(size) - st.held
	if n <= 0 {
		return nil
	}
	if !d.budget.reserve(n, d.held) {
		return fmt.Errorf("%w: chunk stream %d needs %d more bytes (%d of %d in use)", ErrBudgetExceeded, st.csid, n, d.budget.Used(), d.budget.limit)
	}
	st.held += n
	d.held += n
	return nil
}

// unhold returns st's Budget reservation.
func (d *Decoder) unhold(st *chunkStream) {
	if st.held != 0 {
		d.held -= st.held
		d.budget.release(st.held, d.held == 0)
		st.held = 0
	}
}

// keep accounts for chunk stream idx's buffer, idle after its message, as
// kept for reuse. Past MaxKeptBytes it goes back to the pool: at the next Feed
// when the returned Message aliases it (referenced), else at once.
func (d *Decoder) keep(idx int, referenced bool) {
	st := &d.streams[idx]
	d.kept += len(st.buf)
	if d.kept <= d.maxKept || len(st.buf) == 0 {
		return
	}
	if d.dropIdx >= 0 {
		d.dropKept() // a message of an earlier Feed: no longer referenced
	}
	d.dropIdx = idx
	if !referenced {
		d.dropKept()
	}
}

// dropKept returns the marked idle buffer to the pool.
func (d *Decoder) dropKept() {
	st := &d.streams[d.dropIdx]
	d.dropIdx = -1
	if st.active {
		return
	}
	d.kept -= len(st.buf)
	d.pool.put(st.bufp)
	st.bufp, st.buf = nil, nil
}

// SetNow sets the stamp recorded as the start of every message that a chunk
// stream begins from now on; OldestPartial reports it while the message is
// incomplete. The unit is the owner's (for example Unix milliseconds from its
// periodic tick): the codec reads no clock. The stamp persists across Release
// and Init until the next SetNow; it is 0 until the first. Same goroutine as
// Feed.
func (d *Decoder) SetNow(stamp int64) { d.now = stamp }

// OldestPartial returns the smallest start stamp (see SetNow) among the
// messages still being assembled, and ok == false if there is none. An owner
// that calls it on its periodic tick can close a connection whose oldest
// partial message started before its deadline, so that a peer cannot hold
// buffers by trickling a started message. It walks the live chunk streams (at
// most MaxChunkStreams) and does not allocate. Same goroutine as Feed.
func (d *Decoder) OldestPartial() (stamp int64, ok bool) {
	for i := range d.streams {
		st := &d.streams[i]
		if st.active && (!ok || st.started < stamp) {
			stamp, ok = st.started, true
		}
	}
	return stamp, ok
}
