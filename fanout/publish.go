package fanout

// A publisher's session on a stream: its start, its end (at once, or
// suspended while the players wait for the next publisher) and the control
// messages the server adds.

// SetBurstInput tells the stream whether its publisher's messages arrive in
// bursts at least a batch window apart: a transport that reads the
// publisher's socket once per window (netpoll.ReadDeferrer). Each burst is
// then delivered at once on every loop instead of waiting for the loops' own
// windows, so the batching is done once, at the read: two window clocks
// would otherwise run side by side, and a burst that arrives just after a
// loop's flush would wait a whole window more. It applies to the publisher
// whose BeginPublish returned epoch, and reports false (doing nothing) once
// another has begun; BeginPublish turns it off. Safe from any goroutine.
func (s *Stream) SetBurstInput(epoch uint64, on bool) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.publishing || s.epoch != epoch {
		return false
	}
	s.burst.Store(on)
	return true
}

// BeginPublish marks the start of a publisher's session and returns its epoch:
// a number unique among this stream's BeginPublish calls, which PublishAs and
// EndPublishAs check so that a replaced publisher can no longer write. Callers
// that do not need the check may ignore it. Timestamps of the new publisher are
// rebased so that players see them continue from the previous publisher's last
// timestamp; codec state from a previous publisher is dropped. Safe from any
// goroutine.
func (s *Stream) BeginPublish() uint64 {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.allocRingLocked()
	s.epoch++
	s.publishing = true
	s.burst.Store(false)
	s.suspended, s.waitEOF = false, nil
	s.rebase = true
	s.hasVideo = false
	s.audioSeen.Store(false)
	s.videoSeen.Store(false)
	s.dropCodecState()
	return s.epoch
}

// EndPublish marks the end of the publisher's session. eof, if non-empty, holds
// RTMP bytes (for example Stream EOF and NetStream.Play.UnpublishNotify) that every
// RTMP player receives in order after the last media packet. New players then wait
// for the next publisher's first keyframe. eof is copied. Safe from any goroutine.
func (s *Stream) EndPublish(eof []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.endPublishLocked(eof)
}

// EndPublishAs is EndPublish for the publisher whose BeginPublish returned epoch:
// it ends the session and reports true only if that publisher is still the
// current one, and does nothing otherwise. Safe from any goroutine.
func (s *Stream) EndPublishAs(epoch uint64, eof []byte) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.publishing || s.epoch != epoch {
		return false
	}
	s.endPublishLocked(eof)
	return true
}

// SuspendPublishAs ends the session of the publisher whose BeginPublish
// returned epoch, like EndPublishAs, but keeps the players attached: they
// receive nothing until the next publisher, whose timestamps continue theirs
// and whose sequence headers reach them before its first frame, or until
// EndWaiting gives them eof (copied). Subscribers with
// SubscriberOptions.EndOnSuspend end here. It reports false, and does
// nothing, when that publisher is no longer the current one. Safe from any
// goroutine.
func (s *Stream) SuspendPublishAs(epoch uint64, eof []byte) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !s.publishing || s.epoch != epoch {
		return false
	}
	s.publishing, s.suspended = false, true
	s.waitEOF = append(s.waitEOF[:0], eof...)
	s.appendControlLocked(nil, FlagSuspend)
	s.dropCodecState()
	s.trimLocked(s.head.Load() - 1)
	s.accountLocked()
	return true
}

// EndWaiting gives the players of a stream whose publisher left with
// SuspendPublishAs the end of stream it was given there, unless a publisher
// has begun since, and reports whether it did. Safe from any goroutine.
func (s *Stream) EndWaiting() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.publishing || !s.suspended {
		return false
	}
	s.suspended = false
	s.appendControlLocked(s.waitEOF, FlagEOS)
	s.waitEOF = nil
	s.accountLocked()
	return true
}

func (s *Stream) endPublishLocked(eof []byte) {
	s.publishing, s.suspended, s.waitEOF = false, false, nil
	s.appendControlLocked(eof, FlagEOS)
	s.dropCodecState()
	// The GOP is no longer served: keep only the lag allowance for viewers still
	// draining.
	s.trimLocked(s.head.Load() - 1)
	s.accountLocked()
}

// PublishControl appends server-made RTMP bytes (for example a
// NetStream.Play.PublishNotify) that every RTMP player receives in order. b is
// copied. Safe from any goroutine.
func (s *Stream) PublishControl(b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.appendControlLocked(b, 0)
}
