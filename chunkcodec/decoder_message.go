package chunkcodec

import "fmt"

// Message assembly (section 5.3.1.2): a parsed chunk header is applied to its
// chunk stream, the chunk's payload is copied into the stream's buffer, and a
// complete message is handed out, with the protocol control messages that
// change the chunking (section 5.4) applied first.

// applyHeader applies d.ph to its chunk stream and prepares the chunk's
// payload. It returns the message if it is complete already (length 0).
func (d *Decoder) applyHeader() (*Message, error) {
	ph := &d.ph
	idx := ph.idx
	if idx >= 0 && d.streams[idx].active {
		// A chunk continuing a partly received message. Type 3 is the norm;
		// a full header is tolerated if it keeps the length, and the message
		// keeps the header of its first chunk.
		st := &d.streams[idx]
		if ph.fmt != 3 {
			if ph.fmt <= 1 && ph.length != st.length {
				return nil, fmt.Errorf("%w: chunk stream %d: %d then %d", ErrLengthMismatch, ph.csid, st.length, ph.length)
			}
			st.extended = ph.ext
			if ph.ext {
				st.extField = ph.tsField
			}
		}
	} else {
		if ph.fmt <= 1 && ph.length > d.maxMessage {
			return nil, fmt.Errorf("%w: %d bytes on chunk stream %d (limit %d)", ErrMessageTooLarge, ph.length, ph.csid, d.maxMessage)
		}
		if idx < 0 {
			if len(d.streams) >= d.maxStreams {
				return nil, fmt.Errorf("%w: chunk stream %d would be number %d (limit %d)", ErrTooManyChunkStreams, ph.csid, len(d.streams)+1, d.maxStreams)
			}
			idx = d.addStream(ph.csid)
		}
		st := &d.streams[idx]
		switch ph.fmt {
		case 0: // 5.3.1.2.1: absolute timestamp; a type 3 after it uses it as delta
			st.timestamp = ph.tsField
			st.delta = ph.tsField
			st.length = ph.length
			st.typeID = ph.typeID
			st.streamID = ph.streamID
		case 1: // 5.3.1.2.2
			st.delta = ph.tsField
			st.timestamp += ph.tsField
			st.length = ph.length
			st.typeID = ph.typeID
		case 2: // 5.3.1.2.3
			st.delta = ph.tsField
			st.timestamp += ph.tsField
		default: // 5.3.1.2.4: a new message repeats the previous delta
			st.timestamp += st.delta
		}
		if ph.fmt != 3 {
			st.extended = ph.ext
			if ph.ext {
				st.extField = ph.tsField
			}
		}
		st.active = true
		st.got = 0
		st.started = d.now
		d.kept -= len(st.buf) // the buffer serves this message now
		if d.dropIdx == idx {
			d.dropIdx = -1
		}
		if st.length > 0 {
			// The message holds the chunk stream's buffer until it completes.
			if err := d.hold(st, len(st.buf)); err != nil {
				return nil, err
			}
		}
	}
	d.cur = idx
	st := &d.streams[idx]
	rem := st.length - st.got
	if rem == 0 {
		return d.complete(st)
	}
	d.chunkRem = min(rem, d.chunkSize)
	d.state = statePayload
	return nil, nil
}

// copyPayload copies the next run of the current chunk's payload from src.
func (d *Decoder) copyPayload(src []byte) (int, *Message, error) {
	st := &d.streams[d.cur]
	k := len(src)
	if uint64(k) > uint64(d.chunkRem) {
		k = int(d.chunkRem)
	}
	end := st.got + uint32(k)
	if int(end) > len(st.buf) {
		if err := d.grow(st, end); err != nil {
			return 0, nil, err
		}
	}
	copy(st.buf[st.got:end], src[:k])
	st.got = end
	d.buffered += uint32(k)
	if d.buffered > d.maxBuffered {
		d.err = fmt.Errorf("%w: %d bytes in partial messages (limit %d)", ErrBufferedTooLarge, d.buffered, d.maxBuffered)
		return k, nil, d.err
	}
	d.chunkRem -= uint32(k)
	if d.chunkRem == 0 {
		d.state = stateHeader
		if end == st.length {
			m, err := d.complete(st)
			return k, m, err
		}
	}
	return k, nil, nil
}

// complete finishes st's message, applies it if it is a protocol control
// message, and returns it.
func (d *Decoder) complete(st *chunkStream) (*Message, error) {
	st.active = false
	d.unhold(st)
	d.keep(d.cur, true)
	d.buffered -= st.got
	d.state = stateHeader
	m := &d.msg
	m.Header = Header{
		ChunkStreamID: st.csid,
		Timestamp:     st.timestamp,
		Length:        st.length,
		TypeID:        st.typeID,
		StreamID:      st.streamID,
	}
	m.Payload = st.buf[:st.length:st.length]
	switch st.typeID {
	case TypeSetChunkSize:
		v, err := ParseUint32Payload(m.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: set chunk size", err)
		}
		v &= MaxChunkSize // bit 31 must be zero; lenient peers ignore it
		if v == 0 {
			return nil, fmt.Errorf("%w: set chunk size 0", ErrBadChunkSize)
		}
		if v > d.maxChunk {
			return nil, fmt.Errorf("%w: set chunk size %d (limit %d)", ErrChunkSizeTooLarge, v, d.maxChunk)
		}
		d.chunkSize = v
	case TypeAbort:
		v, err := ParseUint32Payload(m.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: abort", err)
		}
		if v < MinChunkStreamID || v > MaxChunkStreamID {
			return nil, fmt.Errorf("%w: abort names chunk stream %d", ErrBadChunkStreamID, v)
		}
		if i := d.lookup(v); i >= 0 {
			if d.streams[i].active {
				d.buffered -= d.streams[i].got
				d.unhold(&d.streams[i])
				d.keep(i, false)
			}
			d.streams[i].active = false
			d.streams[i].got = 0
		}
	case TypeWindowAckSize:
		v, err := ParseUint32Payload(m.Payload)
		if err != nil {
			return nil, fmt.Errorf("%w: window acknowledgement size", err)
		}
		d.window = v
	}
	return m, nil
}
