package chunkcodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
)

// This file holds the one case table of the chunk stream codec: wire bytes
// and the messages they decode to. It drives the decode, split-invariance,
// encode and control-payload tests, the fuzz seeds and a benchmark.

// ccWire builds chunk stream bytes by hand, independently of the encoder.
// Every method returns the extended slice, so calls chain.
type ccWire []byte

// basic appends the shortest basic header.
func (w ccWire) basic(fmt uint8, csid uint32) ccWire {
	switch {
	case csid < 64:
		return append(w, fmt<<6|byte(csid))
	case csid < 320:
		return append(w, fmt<<6, byte(csid-64))
	default:
		return w.basic3(fmt, csid)
	}
}

// basic3 appends a 3-byte basic header, whatever csid is.
func (w ccWire) basic3(fmt uint8, csid uint32) ccWire {
	v := csid - 64
	return append(w, fmt<<6|1, byte(v), byte(v>>8))
}

func (w ccWire) u24(v uint32) ccWire { return append(w, byte(v>>16), byte(v>>8), byte(v)) }

// ts appends a 24-bit timestamp field, 0xFFFFFF if v needs the extended one.
func (w ccWire) ts(v uint32) ccWire { return w.u24(min(v, 0xFFFFFF)) }

// extIf appends the extended timestamp when v needs one.
func (w ccWire) extIf(v uint32) ccWire {
	if v >= 0xFFFFFF {
		return w.ext(v)
	}
	return w
}

// ext appends a 4-byte extended timestamp.
func (w ccWire) ext(v uint32) ccWire { return binary.BigEndian.AppendUint32(w, v) }

// msgHdr0 appends the 11-byte type 0 message header (and extended timestamp).
func (w ccWire) msgHdr0(ts, length uint32, typ uint8, sid uint32) ccWire {
	w = w.ts(ts).u24(length)
	w = append(w, typ)
	w = binary.LittleEndian.AppendUint32(w, sid)
	return w.extIf(ts)
}

func (w ccWire) h0(csid, ts, length uint32, typ uint8, sid uint32) ccWire {
	return w.basic(0, csid).msgHdr0(ts, length, typ, sid)
}

func (w ccWire) h1(csid, delta, length uint32, typ uint8) ccWire {
	w = w.basic(1, csid).ts(delta).u24(length)
	return append(w, typ).extIf(delta)
}

func (w ccWire) h2(csid, delta uint32) ccWire { return w.basic(2, csid).ts(delta).extIf(delta) }

// h3 appends a type 3 header without any extended timestamp; add it with ext.
func (w ccWire) h3(csid uint32) ccWire { return w.basic(3, csid) }

func (w ccWire) data(p []byte) ccWire            { return append(w, p...) }
func (w ccWire) str(s string) ccWire             { return append(w, s...) }
func (w ccWire) raw(b ...byte) ccWire            { return append(w, b...) }
func (w ccWire) ctl(typ uint8) ccWire            { return w.h0(2, 0, 4, typ, 0) }
func (w ccWire) u32(v uint32) ccWire             { return binary.BigEndian.AppendUint32(w, v) }
func (w ccWire) ctlN(typ uint8, n uint32) ccWire { return w.h0(2, 0, n, typ, 0) }

// ccPayload returns n deterministic bytes that never contain 0x00 followed
// by 0x00, so they cannot be mistaken for a repeated extended timestamp.
func ccPayload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7) | 0x10
	}
	return p
}

func ccMsg(csid, ts uint32, typ uint8, sid uint32, payload []byte) Message {
	if payload == nil {
		payload = []byte{}
	}
	return Message{Header: Header{ChunkStreamID: csid, Timestamp: ts, Length: uint32(len(payload)), TypeID: typ, StreamID: sid}, Payload: payload}
}

func ccCtl(typ uint8, payload []byte) Message { return ccMsg(2, 0, typ, 0, payload) }

// ccPeerBW is the parsed form of a Set Peer Bandwidth payload.
type ccPeerBW struct {
	Size  uint32
	Limit uint8
}

type ccCase struct {
	name string
	cfg  DecoderConfig
	wire []byte
	msgs []Message // decoded in this order
	err  error     // sentinel Feed must fail with after msgs; nil if none
	// enc, if set, must produce wire exactly (encoder test).
	enc func(dst []byte) []byte
	// ctrl, if set, is msgs[0]'s parsed control payload: a uint32, a
	// ccPeerBW or a UserControl.
	ctrl any
}

// ccAppendMsg returns an enc function that AppendMessage's each message at
// chunk size cs.
func ccAppendMsg(cs uint32, msgs ...Message) func([]byte) []byte {
	return func(dst []byte) []byte {
		for _, m := range msgs {
			dst = AppendMessage(dst, m.Header, m.Payload, cs)
		}
		return dst
	}
}

var ccCases = sync.OnceValue(func() []ccCase {
	p300 := ccPayload(300, 1)
	p130 := ccPayload(130, 2)
	p129 := ccPayload(129, 3)
	p200 := ccPayload(200, 4)
	hello := []byte("hello")
	const tsExt = 0x01020304

	var cases []ccCase
	add := func(c ccCase) { cases = append(cases, c) }
	single := func(name string, csid uint32, w ccWire, m Message) {
		add(ccCase{name: name, wire: w, msgs: []Message{m}, enc: ccAppendMsg(DefaultChunkSize, m)})
	}

	// Basic header forms (5.3.1.1).
	single("type 0, 1-byte basic header", 3,
		ccWire(nil).h0(3, 1000, 5, TypeCommandAMF0, 0).data(hello),
		ccMsg(3, 1000, TypeCommandAMF0, 0, hello))
	single("1-byte basic header, csid 63", 63,
		ccWire(nil).h0(63, 1, 5, TypeDataAMF0, 1).data(hello),
		ccMsg(63, 1, TypeDataAMF0, 1, hello))
	single("2-byte basic header, csid 64", 64,
		ccWire(nil).raw(0x00, 0).msgHdr0(7, 5, TypeAudio, 1).data(hello),
		ccMsg(64, 7, TypeAudio, 1, hello))
	single("2-byte basic header, csid 319", 319,
		ccWire(nil).raw(0x00, 255).msgHdr0(7, 5, TypeAudio, 1).data(hello),
		ccMsg(319, 7, TypeAudio, 1, hello))
	single("3-byte basic header, csid 320", 320,
		ccWire(nil).raw(0x01, 0, 1).msgHdr0(7, 5, TypeVideo, 1).data(hello),
		ccMsg(320, 7, TypeVideo, 1, hello))
	single("3-byte basic header, csid 65599", 65599,
		ccWire(nil).raw(0x01, 255, 255).msgHdr0(7, 5, TypeVideo, 0x01020304).data(hello),
		ccMsg(65599, 7, TypeVideo, 0x01020304, hello))
	add(ccCase{name: "3-byte basic header for csid 100 (non-canonical)",
		wire: ccWire(nil).basic3(0, 100).msgHdr0(7, 5, TypeVideo, 1).data(hello),
		msgs: []Message{ccMsg(100, 7, TypeVideo, 1, hello)}})
	add(ccCase{name: "3-byte then 2-byte basic header on the same chunk stream",
		wire: ccWire(nil).basic3(0, 200).msgHdr0(0, 300, TypeVideo, 1).data(p300[:128]).
			basic(3, 200).data(p300[128:256]).basic3(3, 200).data(p300[256:]),
		msgs: []Message{ccMsg(200, 0, TypeVideo, 1, p300)}})

	// Message header formats (5.3.1.2).
	add(ccCase{name: "type 1 header",
		wire: ccWire(nil).h0(4, 100, 3, TypeAudio, 1).str("abc").h1(4, 20, 2, TypeVideo).str("xy"),
		msgs: []Message{ccMsg(4, 100, TypeAudio, 1, []byte("abc")), ccMsg(4, 120, TypeVideo, 1, []byte("xy"))}})
	add(ccCase{name: "type 2 header",
		wire: ccWire(nil).h0(4, 100, 3, TypeAudio, 1).str("abc").h2(4, 33).str("def"),
		msgs: []Message{ccMsg(4, 100, TypeAudio, 1, []byte("abc")), ccMsg(4, 133, TypeAudio, 1, []byte("def"))}})
	add(ccCase{name: "type 3 new message repeats the previous delta",
		wire: ccWire(nil).h0(5, 1000, 2, TypeAudio, 1).str("aa").h1(5, 40, 2, TypeAudio).str("bb").
			h3(5).str("cc").h3(5).str("dd"),
		msgs: []Message{ccMsg(5, 1000, TypeAudio, 1, []byte("aa")), ccMsg(5, 1040, TypeAudio, 1, []byte("bb")),
			ccMsg(5, 1080, TypeAudio, 1, []byte("cc")), ccMsg(5, 1120, TypeAudio, 1, []byte("dd"))}})
	add(ccCase{name: "type 3 after type 0 uses its timestamp as the delta",
		wire: ccWire(nil).h0(5, 30, 1, TypeAudio, 1).str("a").h3(5).str("b"),
		msgs: []Message{ccMsg(5, 30, TypeAudio, 1, []byte("a")), ccMsg(5, 60, TypeAudio, 1, []byte("b"))}})
	single("message of 300 bytes in 128-byte chunks", 6,
		ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).h3(6).data(p300[128:256]).h3(6).data(p300[256:]),
		ccMsg(6, 0, TypeVideo, 1, p300))
	single("message of exactly one chunk", 6,
		ccWire(nil).h0(6, 9, 128, TypeVideo, 1).data(p300[:128]),
		ccMsg(6, 9, TypeVideo, 1, p300[:128]))
	single("zero-length message", 3,
		ccWire(nil).h0(3, 7, 0, TypeDataAMF0, 1),
		ccMsg(3, 7, TypeDataAMF0, 1, nil))
	add(ccCase{name: "zero-length messages from type 3 headers",
		wire: ccWire(nil).h0(3, 7, 0, TypeDataAMF0, 1).h3(3).h3(3).h1(3, 1, 1, TypeAudio).str("x"),
		msgs: []Message{ccMsg(3, 7, TypeDataAMF0, 1, nil), ccMsg(3, 14, TypeDataAMF0, 1, nil),
			ccMsg(3, 21, TypeDataAMF0, 1, nil), ccMsg(3, 22, TypeAudio, 1, []byte("x"))}})
	add(ccCase{name: "full header mid-message with the same length continues it",
		wire: ccWire(nil).h0(6, 0, 200, TypeVideo, 1).data(p200[:128]).h0(6, 999, 200, TypeVideo, 1).data(p200[128:]),
		msgs: []Message{ccMsg(6, 0, TypeVideo, 1, p200)}})
	add(ccCase{name: "partial message at the end yields nothing",
		wire: ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).h3(6).data(p300[128:200])})
	add(ccCase{name: "partial header at the end yields nothing",
		wire: ccWire(nil).h0(4, 1, 1, TypeAudio, 1).str("a").raw(0x04, 0, 0),
		msgs: []Message{ccMsg(4, 1, TypeAudio, 1, []byte("a"))}})

	// Extended timestamps (5.3.1.3).
	single("extended timestamp repeated on continuation chunks", 6,
		ccWire(nil).h0(6, tsExt, 300, TypeVideo, 1).data(p300[:128]).
			h3(6).ext(tsExt).data(p300[128:256]).h3(6).ext(tsExt).data(p300[256:]),
		ccMsg(6, tsExt, TypeVideo, 1, p300))
	single("timestamp 0xFFFFFF is extended", 6,
		ccWire(nil).raw(0x06, 0xff, 0xff, 0xff, 0, 0, 5, TypeVideo, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff).data(hello),
		ccMsg(6, 0xFFFFFF, TypeVideo, 1, hello))
	single("timestamp 0xFFFFFE is not extended", 6,
		ccWire(nil).raw(0x06, 0xff, 0xff, 0xfe, 0, 0, 5, TypeVideo, 1, 0, 0, 0).data(hello),
		ccMsg(6, 0xFFFFFE, TypeVideo, 1, hello))
	add(ccCase{name: "extended timestamp omitted on continuation chunks",
		wire: ccWire(nil).h0(6, tsExt, 300, TypeVideo, 1).data(p300[:128]).
			h3(6).data(p300[128:256]).h3(6).data(p300[256:]),
		msgs: []Message{ccMsg(6, tsExt, TypeVideo, 1, p300)}})
	add(ccCase{name: "extended timestamp omitted on a 2-byte continuation chunk",
		wire: ccWire(nil).h0(6, tsExt, 130, TypeVideo, 1).data(p130[:128]).h3(6).data(p130[128:]).
			h0(3, 5, 1, TypeCommandAMF0, 0).str("z"),
		msgs: []Message{ccMsg(6, tsExt, TypeVideo, 1, p130), ccMsg(3, 5, TypeCommandAMF0, 0, []byte("z"))}})
	add(ccCase{name: "extended timestamp omitted on a 1-byte continuation chunk before a type 3 chunk",
		wire: ccWire(nil).h0(4, 10, 2, TypeAudio, 1).str("xy").
			h0(6, tsExt, 129, TypeVideo, 1).data(p129[:128]).h3(6).data(p129[128:]).
			h3(4).str("uv"),
		msgs: []Message{ccMsg(4, 10, TypeAudio, 1, []byte("xy")), ccMsg(6, tsExt, TypeVideo, 1, p129),
			ccMsg(4, 20, TypeAudio, 1, []byte("uv"))}})
	add(ccCase{name: "extended timestamp repeated on a 2-byte continuation chunk",
		wire: ccWire(nil).h0(6, tsExt, 130, TypeVideo, 1).data(p130[:128]).h3(6).ext(tsExt).data(p130[128:]).
			h0(3, 5, 1, TypeCommandAMF0, 0).str("z"),
		msgs: []Message{ccMsg(6, tsExt, TypeVideo, 1, p130), ccMsg(3, 5, TypeCommandAMF0, 0, []byte("z"))},
		enc:  ccAppendMsg(DefaultChunkSize, ccMsg(6, tsExt, TypeVideo, 1, p130), ccMsg(3, 5, TypeCommandAMF0, 0, []byte("z")))})
	add(ccCase{name: "extended delta on a type 1 header",
		wire: ccWire(nil).h0(7, 10, 1, TypeAudio, 1).str("a").h1(7, 0x01000000, 1, TypeAudio).str("b"),
		msgs: []Message{ccMsg(7, 10, TypeAudio, 1, []byte("a")), ccMsg(7, 0x0100000A, TypeAudio, 1, []byte("b"))}})
	add(ccCase{name: "extended delta on type 2, repeated on a type 3 new message",
		wire: ccWire(nil).h0(7, 10, 1, TypeAudio, 1).str("a").h2(7, 0x01000000).str("b").
			h3(7).ext(0x01000000).str("c"),
		msgs: []Message{ccMsg(7, 10, TypeAudio, 1, []byte("a")), ccMsg(7, 0x0100000A, TypeAudio, 1, []byte("b")),
			ccMsg(7, 0x0200000A, TypeAudio, 1, []byte("c"))}})
	add(ccCase{name: "extended delta, continuation repeats the absolute timestamp",
		wire: ccWire(nil).h0(7, 10, 1, TypeAudio, 1).str("a").h1(7, 0x01000000, 130, TypeVideo).data(p130[:128]).
			h3(7).ext(0x0100000A).data(p130[128:]),
		msgs: []Message{ccMsg(7, 10, TypeAudio, 1, []byte("a")), ccMsg(7, 0x0100000A, TypeVideo, 1, p130)}})
	add(ccCase{name: "timestamp wraps at 2^32",
		wire: ccWire(nil).h0(8, 0xFFFFFFF0, 1, TypeAudio, 1).str("a").h1(8, 0x20, 1, TypeAudio).str("b"),
		msgs: []Message{ccMsg(8, 0xFFFFFFF0, TypeAudio, 1, []byte("a")), ccMsg(8, 0x10, TypeAudio, 1, []byte("b"))}})

	// Interleaving.
	add(ccCase{name: "interleaved audio and video chunk streams",
		wire: ccWire(nil).h0(6, 40, 300, TypeVideo, 1).data(p300[:128]).
			h0(4, 40, 3, TypeAudio, 1).str("AAA").
			h3(6).data(p300[128:256]).
			h2(4, 23).str("BBB").
			h3(6).data(p300[256:]),
		msgs: []Message{ccMsg(4, 40, TypeAudio, 1, []byte("AAA")), ccMsg(4, 63, TypeAudio, 1, []byte("BBB")),
			ccMsg(6, 40, TypeVideo, 1, p300)}})

	// Protocol control messages (5.4) applied by the decoder.
	setCS200 := ccCtl(TypeSetChunkSize, []byte{0, 0, 0, 200})
	add(ccCase{name: "set chunk size mid-stream",
		wire: ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).h3(6).data(p300[128:256]).h3(6).data(p300[256:]).
			ctl(TypeSetChunkSize).u32(200).
			h0(6, 0, 300, TypeVideo, 1).data(p300[:200]).h3(6).data(p300[200:]),
		msgs: []Message{ccMsg(6, 0, TypeVideo, 1, p300), setCS200, ccMsg(6, 0, TypeVideo, 1, p300)},
		enc: func(dst []byte) []byte {
			dst = AppendMessage(dst, Header{ChunkStreamID: 6, TypeID: TypeVideo, StreamID: 1}, p300, 128)
			dst = AppendSetChunkSize(dst, 200)
			return AppendMessage(dst, Header{ChunkStreamID: 6, TypeID: TypeVideo, StreamID: 1}, p300, 200)
		}})
	add(ccCase{name: "set chunk size between chunks of an interleaved message",
		wire: ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).
			ctl(TypeSetChunkSize).u32(200).
			h3(6).data(p300[128:]),
		msgs: []Message{setCS200, ccMsg(6, 0, TypeVideo, 1, p300)}})
	add(ccCase{name: "set chunk size with bit 31 set is masked",
		wire: ccWire(nil).ctl(TypeSetChunkSize).u32(0x80000000|200).
			h0(6, 0, 300, TypeVideo, 1).data(p300[:200]).h3(6).data(p300[200:]),
		msgs: []Message{ccCtl(TypeSetChunkSize, []byte{0x80, 0, 0, 200}), ccMsg(6, 0, TypeVideo, 1, p300)}})
	add(ccCase{name: "set chunk size 1",
		wire: ccWire(nil).ctl(TypeSetChunkSize).u32(1).
			h0(6, 0, 3, TypeVideo, 1).str("a").h3(6).str("b").h3(6).str("c"),
		msgs: []Message{ccCtl(TypeSetChunkSize, []byte{0, 0, 0, 1}), ccMsg(6, 0, TypeVideo, 1, []byte("abc"))},
		enc: func(dst []byte) []byte {
			dst = AppendSetChunkSize(dst, 1)
			return AppendMessage(dst, Header{ChunkStreamID: 6, TypeID: TypeVideo, StreamID: 1}, []byte("abc"), 1)
		}})
	add(ccCase{name: "abort discards the partial message",
		wire: ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).
			ctl(TypeAbort).u32(6).
			h0(6, 50, 3, TypeVideo, 1).str("new").
			h1(6, 10, 2, TypeVideo).str("ok"),
		msgs: []Message{ccCtl(TypeAbort, []byte{0, 0, 0, 6}), ccMsg(6, 50, TypeVideo, 1, []byte("new")),
			ccMsg(6, 60, TypeVideo, 1, []byte("ok"))}})
	add(ccCase{name: "window acknowledgement size from the peer",
		wire: ccWire(nil).ctl(TypeWindowAckSize).u32(2500000),
		msgs: []Message{ccCtl(TypeWindowAckSize, []byte{0, 0x26, 0x25, 0xa0})}})

	// Control message encodings (5.4, 6.2, 7.1.7): literal wire bytes.
	ctlHdr := func(typ uint8, n byte) ccWire { return ccWire{0x02, 0, 0, 0, 0, 0, n, typ, 0, 0, 0, 0} }
	ctlCase := func(name string, w ccWire, typ uint8, enc func([]byte) []byte, ctrl any) {
		add(ccCase{name: name, wire: w, msgs: []Message{ccCtl(typ, w[12:])}, enc: enc, ctrl: ctrl})
	}
	ctlCase("Set Chunk Size 4096", ctlHdr(1, 4).raw(0, 0, 0x10, 0), TypeSetChunkSize,
		func(d []byte) []byte { return AppendSetChunkSize(d, 4096) }, uint32(4096))
	ctlCase("Abort", ctlHdr(2, 4).raw(0, 0, 0, 5), TypeAbort,
		func(d []byte) []byte { return AppendAbort(d, 5) }, uint32(5))
	ctlCase("Acknowledgement", ctlHdr(3, 4).raw(0x12, 0x34, 0x56, 0x78), TypeAck,
		func(d []byte) []byte { return AppendAck(d, 0x12345678) }, uint32(0x12345678))
	ctlCase("Window Acknowledgement Size", ctlHdr(5, 4).raw(0, 0x26, 0x25, 0xa0), TypeWindowAckSize,
		func(d []byte) []byte { return AppendWindowAckSize(d, 2500000) }, uint32(2500000))
	ctlCase("Set Peer Bandwidth", ctlHdr(6, 5).raw(0, 0x26, 0x25, 0xa0, 2), TypeSetPeerBandwidth,
		func(d []byte) []byte { return AppendSetPeerBandwidth(d, 2500000, LimitDynamic) }, ccPeerBW{2500000, LimitDynamic})
	ctlCase("Stream Begin", ctlHdr(4, 6).raw(0, 0, 0, 0, 0, 1), TypeUserControl,
		func(d []byte) []byte { return AppendStreamBegin(d, 1) }, UserControl{Event: EventStreamBegin, Data: 1})
	ctlCase("Stream EOF", ctlHdr(4, 6).raw(0, 1, 0, 0, 0, 1), TypeUserControl,
		func(d []byte) []byte { return AppendStreamEOF(d, 1) }, UserControl{Event: EventStreamEOF, Data: 1})
	ctlCase("Stream Dry", ctlHdr(4, 6).raw(0, 2, 0, 0, 0, 1), TypeUserControl,
		func(d []byte) []byte { return AppendStreamDry(d, 1) }, UserControl{Event: EventStreamDry, Data: 1})
	ctlCase("Set Buffer Length", ctlHdr(4, 10).raw(0, 3, 0, 0, 0, 1, 0, 0, 0x0b, 0xb8), TypeUserControl,
		func(d []byte) []byte { return AppendSetBufferLength(d, 1, 3000) }, UserControl{Event: EventSetBufferLength, Data: 1, BufferLength: 3000})
	ctlCase("Stream Is Recorded", ctlHdr(4, 6).raw(0, 4, 0, 0, 0, 1), TypeUserControl,
		func(d []byte) []byte { return AppendStreamIsRecorded(d, 1) }, UserControl{Event: EventStreamIsRecorded, Data: 1})
	ctlCase("Ping Request", ctlHdr(4, 6).raw(0, 6, 0, 1, 0xe2, 0x40), TypeUserControl,
		func(d []byte) []byte { return AppendPingRequest(d, 123456) }, UserControl{Event: EventPingRequest, Data: 123456})
	ctlCase("Ping Response", ctlHdr(4, 6).raw(0, 7, 0, 1, 0xe2, 0x40), TypeUserControl,
		func(d []byte) []byte { return AppendPingResponse(d, 123456) }, UserControl{Event: EventPingResponse, Data: 123456})
	ctlCase("user control event with the generic encoder", ctlHdr(4, 6).raw(0, 6, 0xde, 0xad, 0xbe, 0xef), TypeUserControl,
		func(d []byte) []byte { return AppendUserControl(d, EventPingRequest, 0xdeadbeef) }, UserControl{Event: EventPingRequest, Data: 0xdeadbeef})
	ctlCase("unknown user control event (buffer empty) is passed through", ctlHdr(4, 6).raw(0, 31, 0, 0, 0, 1), TypeUserControl,
		nil, UserControl{Event: 31, Data: 1})

	// Hostile input: each limit yields its own sentinel.
	hostile := func(name string, cfg DecoderConfig, w ccWire, err error, msgs ...Message) {
		add(ccCase{name: name, cfg: cfg, wire: w, err: err, msgs: msgs})
	}
	hostile("message longer than MaxMessageSize", DecoderConfig{MaxMessageSize: 100},
		ccWire(nil).h0(3, 0, 100, TypeVideo, 1).data(ccPayload(100, 9)).h0(3, 0, 101, TypeVideo, 1),
		ErrMessageTooLarge, ccMsg(3, 0, TypeVideo, 1, ccPayload(100, 9)))
	hostile("message longer than the default limit", DecoderConfig{},
		ccWire(nil).h0(3, 0, 0xFFFFFF, TypeVideo, 1), ErrMessageTooLarge)
	hostile("type 1 message longer than MaxMessageSize", DecoderConfig{MaxMessageSize: 100},
		ccWire(nil).h0(3, 0, 1, TypeVideo, 1).str("a").h1(3, 0, 1000, TypeVideo), ErrMessageTooLarge,
		ccMsg(3, 0, TypeVideo, 1, []byte("a")))
	hostile("type 1 header on a new chunk stream", DecoderConfig{},
		ccWire(nil).h1(9, 0, 1, TypeAudio).str("a"), ErrNoPreviousHeader)
	hostile("type 2 header on a new chunk stream", DecoderConfig{},
		ccWire(nil).h0(4, 0, 1, TypeAudio, 1).str("a").h2(9, 0).str("a"), ErrNoPreviousHeader,
		ccMsg(4, 0, TypeAudio, 1, []byte("a")))
	hostile("type 3 header on a new chunk stream", DecoderConfig{},
		ccWire(nil).h3(300).str("a"), ErrNoPreviousHeader)
	hostile("too many chunk streams", DecoderConfig{MaxChunkStreams: 2},
		ccWire(nil).h0(3, 0, 1, TypeAudio, 1).str("a").h0(400, 0, 1, TypeAudio, 1).str("b").
			h3(3).str("c").h0(5, 0, 1, TypeAudio, 1).str("d"),
		ErrTooManyChunkStreams,
		ccMsg(3, 0, TypeAudio, 1, []byte("a")), ccMsg(400, 0, TypeAudio, 1, []byte("b")), ccMsg(3, 0, TypeAudio, 1, []byte("c")))
	hostile("set chunk size 0", DecoderConfig{},
		ccWire(nil).ctl(TypeSetChunkSize).u32(0), ErrBadChunkSize)
	hostile("set chunk size 0x80000000 (0 once masked)", DecoderConfig{},
		ccWire(nil).ctl(TypeSetChunkSize).u32(0x80000000), ErrBadChunkSize)
	hostile("set chunk size above the default cap", DecoderConfig{},
		ccWire(nil).ctl(TypeSetChunkSize).u32(DefaultMaxInboundChunkSize+1), ErrChunkSizeTooLarge)
	hostile("set chunk size above MaxInboundChunkSize", DecoderConfig{MaxInboundChunkSize: 4096},
		ccWire(nil).ctl(TypeSetChunkSize).u32(4096).ctl(TypeSetChunkSize).u32(4097), ErrChunkSizeTooLarge,
		ccCtl(TypeSetChunkSize, []byte{0, 0, 0x10, 0}))
	hostile("set chunk size with a short payload", DecoderConfig{},
		ccWire(nil).ctlN(TypeSetChunkSize, 2).raw(0, 1), ErrShortPayload)
	hostile("window acknowledgement size with a short payload", DecoderConfig{},
		ccWire(nil).ctlN(TypeWindowAckSize, 3).raw(0, 1, 2), ErrShortPayload)
	hostile("abort with a short payload", DecoderConfig{},
		ccWire(nil).ctlN(TypeAbort, 0), ErrShortPayload)
	hostile("abort names chunk stream 1", DecoderConfig{},
		ccWire(nil).ctl(TypeAbort).u32(1), ErrBadChunkStreamID)
	hostile("abort names chunk stream 65600", DecoderConfig{},
		ccWire(nil).ctl(TypeAbort).u32(65600), ErrBadChunkStreamID)
	hostile("message length changes mid-message", DecoderConfig{},
		ccWire(nil).h0(6, 0, 300, TypeVideo, 1).data(p300[:128]).h1(6, 0, 200, TypeVideo).data(p300[128:]),
		ErrLengthMismatch)
	return cases
})

// ccResult is what a Decoder produced from some input: messages (payloads
// copied) and the error it stopped with.
type ccResult struct {
	msgs []Message
	err  error
}

func (r ccResult) String() string {
	var b bytes.Buffer
	for _, m := range r.msgs {
		fmt.Fprintf(&b, "{csid %d ts %d len %d type %d sid %d payload %x}\n", m.ChunkStreamID, m.Timestamp, m.Length, m.TypeID, m.StreamID, ccTrunc(m.Payload))
	}
	fmt.Fprintf(&b, "err: %v", r.err)
	return b.String()
}

func ccTrunc(p []byte) []byte {
	if len(p) > 32 {
		return p[:32]
	}
	return p
}

// equal compares messages exactly and errors by text (which includes the
// context the decoder adds).
func (r ccResult) equal(o ccResult) bool {
	if !reflect.DeepEqual(r.msgs, o.msgs) {
		return false
	}
	if (r.err == nil) != (o.err == nil) {
		return false
	}
	return r.err == nil || r.err.Error() == o.err.Error()
}

// ccFeed feeds wire to d in pieces whose sizes next chooses (given the bytes
// left), and collects what d produces. It also checks Feed's contract.
func ccFeed(d *Decoder, wire []byte, next func(rest int) int) ccResult {
	var r ccResult
	p := wire
	for len(p) > 0 {
		k := max(1, min(next(len(p)), len(p)))
		piece := p[:k]
		for len(piece) > 0 {
			n, m, err := d.Feed(piece)
			if n < 0 || n > len(piece) {
				panic(fmt.Sprintf("Feed consumed %d of %d bytes", n, len(piece)))
			}
			if err == nil && m == nil && n != len(piece) {
				panic(fmt.Sprintf("Feed returned no message after consuming %d of %d bytes", n, len(piece)))
			}
			piece = piece[n:]
			if err != nil {
				r.err = err
				if _, _, err2 := d.Feed(p); err2 != err {
					panic(fmt.Sprintf("error not sticky: %v then %v", err, err2))
				}
				return r
			}
			if m != nil {
				c := *m
				c.Payload = append([]byte{}, m.Payload...)
				r.msgs = append(r.msgs, c)
			}
		}
		p = p[k:]
	}
	// A message can complete from carried bytes with no input left.
	for {
		_, m, err := d.Feed(nil)
		if err != nil {
			r.err = err
			return r
		}
		if m == nil {
			return r
		}
		c := *m
		c.Payload = append([]byte{}, m.Payload...)
		r.msgs = append(r.msgs, c)
	}
}

func ccWhole(rest int) int { return rest }
func ccOneByte(int) int    { return 1 }

func ccRandomSplits(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	return func(rest int) int {
		switch r.IntN(4) {
		case 0:
			return 1 + r.IntN(4)
		case 1:
			return 1 + r.IntN(20)
		default:
			return 1 + r.IntN(rest)
		}
	}
}

// ccCutSplits splits at the sizes listed in cuts (a fuzz input), cycling.
func ccCutSplits(cuts []byte) func(int) int {
	i := 0
	return func(rest int) int {
		if len(cuts) == 0 {
			return rest
		}
		c := int(cuts[i%len(cuts)])
		i++
		if c >= 0xF0 {
			return (c - 0xEF) * 256
		}
		return c + 1
	}
}

func ccErrIs(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}
