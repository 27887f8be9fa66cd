//go:build !race

package chunkcodec

import "testing"

// TestDecoderFeedAllocs feeds a long stream of interleaved audio and video
// messages: once every chunk stream's buffer has grown, Feed allocates
// nothing.
func TestDecoderFeedAllocs(t *testing.T) {
	for _, cs := range []uint32{128, 4096} {
		stream := ccAVStream(cs, 40)
		for _, pool := range []*BufferPool{nil, NewBufferPool()} {
			d := NewDecoder(DecoderConfig{Pool: pool})
			ccFeedDiscard(d, stream, 16<<10) // warm up: buffers grow once
			allocs := testing.AllocsPerRun(20, func() {
				ccFeedDiscard(d, stream, 16<<10)
			})
			if allocs != 0 {
				t.Errorf("chunk size %d, pool %v: %v allocations per stream", cs, pool != nil, allocs)
			}
			// And byte by byte, through the slow header path.
			allocs = testing.AllocsPerRun(2, func() {
				ccFeedDiscard(d, stream, 1)
			})
			if allocs != 0 {
				t.Errorf("chunk size %d, pool %v, byte by byte: %v allocations per stream", cs, pool != nil, allocs)
			}
			d.Release()
		}
	}
}

// TestDecoderFeedAllocsBudget: reserving from and returning to a shared
// Budget, and stamping message starts, allocate nothing either.
func TestDecoderFeedAllocsBudget(t *testing.T) {
	stream := ccAVStream(128, 40)
	b := NewBudget(64 << 20)
	d := NewDecoder(DecoderConfig{Pool: NewBufferPool(), Budget: b})
	ccFeedDiscard(d, stream, 16<<10)
	var now int64
	for _, size := range []int{16 << 10, 1} {
		allocs := testing.AllocsPerRun(3, func() {
			now++
			d.SetNow(now)
			ccFeedDiscard(d, stream, size)
			_, _ = d.OldestPartial()
		})
		if allocs != 0 {
			t.Errorf("reads of %d bytes: %v allocations per stream", size, allocs)
		}
	}
	if b.Used() != 0 {
		t.Errorf("Used %d after whole messages", b.Used())
	}
	d.Release()
}

// TestDecoderOmittedExtTimestampAllocs covers the carry path (an extended
// timestamp omitted on a short continuation chunk) fed byte by byte.
func TestDecoderOmittedExtTimestampAllocs(t *testing.T) {
	var wire []byte
	for _, c := range ccCases() {
		if c.name == "extended timestamp omitted on a 1-byte continuation chunk before a type 3 chunk" {
			wire = append(append(append(wire, c.wire...), c.wire...), c.wire...)
		}
	}
	if wire == nil {
		t.Fatal("case not found")
	}
	d := NewDecoder(DecoderConfig{})
	ccFeedDiscard(d, wire, 1)
	if allocs := testing.AllocsPerRun(10, func() { ccFeedDiscard(d, wire, 1) }); allocs != 0 {
		t.Errorf("%v allocations", allocs)
	}
}

func TestAppendAllocs(t *testing.T) {
	video := Header{ChunkStreamID: 6, Timestamp: 0x01020304, TypeID: TypeVideo, StreamID: 1}
	payload := ccPayload(65536, 1)
	dst := make([]byte, 0, EncodedLen(video, len(payload), 4096))
	if allocs := testing.AllocsPerRun(100, func() {
		dst = AppendMessage(dst[:0], video, payload, 4096)
	}); allocs != 0 {
		t.Errorf("AppendMessage: %v allocations", allocs)
	}
	buf := make([]byte, 0, 512)
	if allocs := testing.AllocsPerRun(100, func() {
		b := buf[:0]
		b = AppendSetChunkSize(b, 4096)
		b = AppendAbort(b, 4)
		b = AppendAck(b, 1)
		b = AppendWindowAckSize(b, 2500000)
		b = AppendSetPeerBandwidth(b, 2500000, LimitDynamic)
		b = AppendUserControl(b, EventStreamBegin, 1)
		b = AppendSetBufferLength(b, 1, 3000)
		b = AppendStreamBegin(b, 1)
		b = AppendStreamEOF(b, 1)
		b = AppendStreamDry(b, 1)
		b = AppendStreamIsRecorded(b, 1)
		b = AppendPingRequest(b, 1)
		b = AppendPingResponse(b, 1)
		buf = b
	}); allocs != 0 {
		t.Errorf("control Append: %v allocations", allocs)
	}
	p := []byte{0, 3, 0, 0, 0, 1, 0, 0, 0, 2}
	if allocs := testing.AllocsPerRun(100, func() {
		_, _ = ParseUint32Payload(p)
		_, _, _ = ParseSetPeerBandwidth(p)
		_, _ = ParseUserControl(p)
	}); allocs != 0 {
		t.Errorf("Parse: %v allocations", allocs)
	}
}
