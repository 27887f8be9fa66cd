package chunkcodec

// AppendRestampedHeader appends to dst the first chunk's header of msg, a
// message as AppendMessage encodes it (a type 0 header first), with its
// timestamp replaced by ts, and returns the length of the header it
// replaces: dst followed by msg[hdrLen:] is msg stamped ts. That lets one
// encoding serve receivers that each see their own timestamps (a player that
// joins mid-stream starting from 0) for a few header bytes each.
//
// It refuses (ok false, dst unchanged; send msg as it is) when msg carries an
// extended timestamp (section 5.3.1.3), because its type 3 chunks repeat that
// timestamp and receivers (librtmp, FFmpeg, this package's Decoder) decide
// from the first chunk's timestamp whether to expect it; when ts itself
// would need the extended form; and when msg does not start with a complete
// type 0 header. It does not allocate when dst has room, keeps no state and
// is safe for concurrent use.
func AppendRestampedHeader(dst, msg []byte, ts uint32) (out []byte, hdrLen int, ok bool) {
	if len(msg) == 0 || msg[0]>>6 != 0 || ts >= extendedTimestampMarker {
		return dst, 0, false
	}
	bh := 1
	switch msg[0] & 0x3f {
	case 0:
		bh = 2
	case 1:
		bh = 3
	}
	if len(msg) < bh+11 || getUint24(msg[bh:]) == extendedTimestampMarker {
		return dst, 0, false
	}
	dst = append(dst, msg[:bh]...)
	dst = append(dst, byte(ts>>16), byte(ts>>8), byte(ts))
	dst = append(dst, msg[bh+3:bh+11]...)
	return dst, bh + 11, true
}
