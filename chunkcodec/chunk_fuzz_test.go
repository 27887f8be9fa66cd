package chunkcodec

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// ccFuzzConfig keeps fuzzed decoders small: at most 8 chunk streams of
// messages up to 4 KiB.
var ccFuzzConfig = DecoderConfig{MaxMessageSize: 4096, MaxInboundChunkSize: 4096, MaxChunkStreams: 8}

// FuzzDecoder checks, for arbitrary bytes: no panic; memory bounded by the
// configured limits; split invariance (all at once and split at fuzz-chosen
// points give identical messages and errors); and round trip (every decoded
// message, re-encoded with AppendMessage, decodes to itself).
func FuzzDecoder(f *testing.F) {
	for i, c := range ccCases() {
		f.Add(c.wire, []byte{byte(i), 3, 0, 0xF1, 1})
	}
	f.Add(ccAVStream(128, 2), []byte{0x7F, 0xF0})
	if capture, err := os.ReadFile(ffmpegCapturePath); err == nil {
		f.Add(capture, []byte{1, 2, 3, 4, 5})
	}
	f.Fuzz(func(t *testing.T, wire, cuts []byte) {
		// The whole-input decoder counts against an unlimited Budget (which
		// never changes what it decodes): the count must match the buffers of
		// its partial messages, and Release must return all of it.
		budget := NewBudget(0)
		cfg := ccFuzzConfig
		cfg.Budget = budget
		d := NewDecoder(cfg)
		whole := ccFeed(d, wire, ccWhole)
		if held, limit := d.ccHeldBytes(), ccFuzzConfig.MaxChunkStreams*int(ccFuzzConfig.MaxMessageSize); held > limit {
			t.Fatalf("decoder holds %d bytes, limit %d", held, limit)
		}
		if u, r := budget.Used(), d.ccReservedBytes(); u != r || u > int64(d.ccHeldBytes()) {
			t.Fatalf("budget Used %d, decoder reserved %d, holds %d", u, r, d.ccHeldBytes())
		}
		d.Release()
		if u := budget.Used(); u != 0 {
			t.Fatalf("budget Used %d after Release", u)
		}
		split := ccFeed(NewDecoder(ccFuzzConfig), wire, ccCutSplits(cuts))
		if !split.equal(whole) {
			t.Fatalf("split differs:\nsplit %v\nwhole %v", split, whole)
		}
		one := ccFeed(NewDecoder(ccFuzzConfig), wire, ccOneByte)
		if !one.equal(whole) {
			t.Fatalf("byte by byte differs:\none   %v\nwhole %v", one, whole)
		}
		for _, m := range whole.msgs {
			if int(m.Length) != len(m.Payload) {
				t.Fatalf("length %d, payload %d bytes", m.Length, len(m.Payload))
			}
			enc := AppendMessage(nil, m.Header, m.Payload, DefaultChunkSize)
			again := ccFeed(NewDecoder(ccFuzzConfig), enc, ccWhole)
			if again.err != nil || len(again.msgs) != 1 || !reflect.DeepEqual(again.msgs[0], m) {
				t.Fatalf("round trip:\ngot  %v\nwant %v", again, ccResult{msgs: []Message{m}})
			}
		}
	})
}

// FuzzRoundTrip encodes fuzz-chosen messages at a fuzz-chosen chunk size and
// checks that the decoder returns them unchanged, whole and split.
func FuzzRoundTrip(f *testing.F) {
	for _, c := range ccCases() {
		if c.err != nil || len(c.msgs) == 0 {
			continue
		}
		m := c.msgs[len(c.msgs)-1]
		f.Add(m.ChunkStreamID, m.Timestamp, m.TypeID, m.StreamID, m.Payload, uint32(DefaultChunkSize), m.Timestamp+40, []byte{5, 200})
	}
	f.Add(uint32(320), uint32(0xFFFFFF), TypeVideo, uint32(1), ccPayload(1000, 1), uint32(3), uint32(0xFFFFFFFF), []byte{0xF3})
	f.Fuzz(func(t *testing.T, csid, ts uint32, typ uint8, sid uint32, payload []byte, cs, ts2 uint32, cuts []byte) {
		csid = MinChunkStreamID + csid%(MaxChunkStreamID-MinChunkStreamID+1)
		cs = 1 + cs%(1<<17)
		switch typ {
		case TypeSetChunkSize, TypeAbort, TypeWindowAckSize:
			typ += 100 // those are applied by the decoder; tested elsewhere
		}
		h := Header{ChunkStreamID: csid, Timestamp: ts, TypeID: typ, StreamID: sid}
		h2 := h
		h2.Timestamp = ts2
		p2 := bytes.ToUpper(payload[:len(payload)/2])

		wire := AppendSetChunkSize(nil, cs)
		wire = AppendMessage(wire, h, payload, cs)
		wire = AppendMessage(wire, h2, p2, cs)
		if want := 16 + EncodedLen(h, len(payload), cs) + EncodedLen(h2, len(p2), cs); len(wire) != want {
			t.Fatalf("wrote %d bytes, EncodedLen says %d", len(wire), want)
		}
		want := []Message{
			ccCtl(TypeSetChunkSize, wire[12:16]),
			ccMsg(csid, ts, typ, sid, payload),
			ccMsg(csid, ts2, typ, sid, p2),
		}
		cfg := DecoderConfig{MaxInboundChunkSize: MaxChunkSize}
		for _, next := range []func(int) int{ccWhole, ccCutSplits(cuts)} {
			got := ccFeed(NewDecoder(cfg), wire, next)
			if got.err != nil || !reflect.DeepEqual(got.msgs, want) {
				t.Fatalf("chunk size %d:\ngot  %v\nwant %v", cs, got, ccResult{msgs: want})
			}
		}
	})
}
