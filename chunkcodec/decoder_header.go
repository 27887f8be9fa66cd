package chunkcodec

import (
	"encoding/binary"
	"fmt"
)

// Chunk header parsing (section 5.3.1): basic header, message header of
// types 0 to 3, extended timestamp.

// parseHeader parses the chunk header at the start of b into d.ph without
// changing any state. ok is false if b is too short; hl is the header length.
func (d *Decoder) parseHeader(b []byte) (hl int, ok bool, err error) {
	if len(b) == 0 {
		return 0, false, nil
	}
	ph := &d.ph
	ph.fmt = b[0] >> 6
	csid := uint32(b[0] & 0x3f)
	i := 1
	switch csid {
	case 0:
		if len(b) < 2 {
			return 0, false, nil
		}
		csid = 64 + uint32(b[1])
		i = 2
	case 1:
		if len(b) < 3 {
			return 0, false, nil
		}
		csid = 64 + uint32(b[1]) + uint32(b[2])<<8
		i = 3
	}
	ph.csid = csid
	ph.idx = d.lookup(csid)
	if ph.idx < 0 && ph.fmt != 0 {
		return 0, false, fmt.Errorf("%w: type %d header on new chunk stream %d", ErrNoPreviousHeader, ph.fmt, csid)
	}
	switch ph.fmt {
	case 0:
		if len(b) < i+11 {
			return 0, false, nil
		}
		ph.tsField = getUint24(b[i:])
		ph.length = getUint24(b[i+3:])
		ph.typeID = b[i+6]
		ph.streamID = binary.LittleEndian.Uint32(b[i+7:])
		i += 11
	case 1:
		if len(b) < i+7 {
			return 0, false, nil
		}
		ph.tsField = getUint24(b[i:])
		ph.length = getUint24(b[i+3:])
		ph.typeID = b[i+6]
		i += 7
	case 2:
		if len(b) < i+3 {
			return 0, false, nil
		}
		ph.tsField = getUint24(b[i:])
		i += 3
	default:
		// Type 3: no message header. An extended timestamp follows if the
		// chunk stream's last header had one, unless the encoder omits it
		// (see the package doc): accept the 4 bytes as the repeated field
		// only if they carry one of the values it could hold.
		st := &d.streams[ph.idx]
		ph.ext = st.extended
		if !st.extended {
			return i, true, nil
		}
		if len(b) < i+4 {
			return 0, false, nil
		}
		v := binary.BigEndian.Uint32(b[i:])
		abs := st.timestamp
		if !st.active {
			abs += st.delta
		}
		if v == st.extField || v == abs {
			i += 4
		}
		return i, true, nil
	}
	ph.ext = ph.tsField == extendedTimestampMarker
	if ph.ext {
		if len(b) < i+4 {
			return 0, false, nil
		}
		ph.tsField = binary.BigEndian.Uint32(b[i:])
		i += 4
	}
	return i, true, nil
}

func getUint24(b []byte) uint32 {
	_ = b[2]
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}
