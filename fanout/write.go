package fanout

// mark is one ring packet of a flush: its sequence number, the packet (held
// for the flush) and the index of its first slice in the flush's iovec.
type mark struct {
	seq uint64
	p   *Packet
	at  int
}

// writeQueued hands iov to the sink, which queues (copies) what the socket
// does not take now. The path of sinks that are not a DirectSink, and of an
// FLV subscriber's last write before it ends.
func (sub *Subscriber) writeQueued(l *loopLocal, iov [][]byte, bytes int) {
	n := len(iov)
	_, err := sub.sink.Writev(iov)
	l.writes.Add(1)
	l.deliveries.Add(uint64(n))
	l.bytesOut.Add(uint64(bytes))
	if err != nil {
		sub.err = err
		sub.Close()
		return
	}
	sub.queued = sub.sink.OutboundBuffered()
}

// writeDirect hands iov (bytes long; the joining prefix is iov[:ringStart],
// then the ring packets of marks; end is the sequence number after the last
// one gathered) to the socket without queueing. When the socket takes less,
// the rest of the unit it stopped in (the prefix, or one ring packet) is
// queued in the transport with Writev, so the transport copies at most one
// message and has bytes queued whenever the socket is full (which is what
// starts the stall clock); the ring packets after that unit are not sent, and
// the cursor goes back to the first of them. It returns the new cursor, how
// many of marks the transport took, and whether the socket was full.
func (sub *Subscriber) writeDirect(l *loopLocal, iov [][]byte, ringStart int, marks []mark, bytes int, end uint64) (next uint64, taken int, full bool) {
	w, err := sub.direct.TryWritev(iov)
	l.writes.Add(1)
	if err != nil {
		sub.err = err
		sub.Close()
		return end, len(marks), false
	}
	if w >= bytes {
		// All taken: TryWritev writes only with nothing queued, so nothing is.
		l.deliveries.Add(uint64(len(iov)))
		l.bytesOut.Add(uint64(bytes))
		sub.queued = 0
		return end, len(marks), false
	}
	// The first byte not written: offset off in iov[k].
	k, off := 0, w
	for off >= len(iov[k]) {
		off -= len(iov[k])
		k++
	}
	// The unit it belongs to ends at stop.
	stop := ringStart
	if k >= ringStart {
		j := len(marks) - 1
		for marks[j].at > k {
			j--
		}
		taken = j + 1
		stop = len(iov)
		if taken < len(marks) {
			stop = marks[taken].at
		}
	}
	next = end
	if taken < len(marks) {
		next = marks[taken].seq
	}
	rest := iov[k:stop]
	rest[0] = rest[0][off:]
	queued := 0
	for _, b := range rest {
		queued += len(b)
	}
	l.deliveries.Add(uint64(stop))
	l.bytesOut.Add(uint64(w + queued))
	if _, err := sub.sink.Writev(rest); err != nil {
		sub.err = err
		sub.Close()
		return next, taken, true
	}
	sub.queued = sub.sink.OutboundBuffered()
	return next, taken, true
}

// noteSent records the metadata and sequence headers among the ring packets
// the transport took, so that a later join of the headers does not send them
// again, and runs OnFirstFrame at the first frame.
func (sub *Subscriber) noteSent(marks []mark) {
	for _, m := range marks {
		if f := sub.onFirst; f != nil && (m.p.Kind == KindVideo || m.p.Kind == KindAudio) && m.p.Flags&FlagSeqHeader == 0 {
			sub.onFirst = nil
			f()
		}
		switch p := m.p; {
		case p.Flags&FlagMeta != 0:
			sub.sentMeta = m.seq
		case p.Flags&FlagSeqHeader != 0:
			if p.Kind == KindVideo {
				sub.sentV = m.seq
			} else {
				sub.sentA = m.seq
			}
		}
	}
}

// retry marks the subscriber's group for the loop's next flush without
// scheduling one: its transport is still busy, and a flush now would find it so.
func (sub *Subscriber) retry(l *loopLocal) {
	if !sub.g.pending.Load() && sub.g.pending.CompareAndSwap(false, true) {
		l.push(sub.g, dueAtTick, false)
	}
}
