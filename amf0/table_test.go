package amf0

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
)

// tv is the expected value tree of the case table: what a wire encoding
// decodes to, and what the encoders are driven with.
type tv struct {
	kind  Kind
	num   uint64 // float64 bits of a Number or Date (bits, so NaN compares)
	b     bool
	s     string // String, LongString, XMLDocument content; AVMPlus AMF3 bytes
	tz    int16
	ref   uint16
	class string
	props []tprop // Object, ECMAArray, TypedObject
	elems []tv    // StrictArray
}

type tprop struct {
	key string
	val tv
}

func num(f float64) tv            { return tv{kind: KindNumber, num: math.Float64bits(f)} }
func numBits(u uint64) tv         { return tv{kind: KindNumber, num: u} }
func boolean(b bool) tv           { return tv{kind: KindBoolean, b: b} }
func str(s string) tv             { return tv{kind: KindString, s: s} }
func longStr(s string) tv         { return tv{kind: KindLongString, s: s} }
func xmlDoc(s string) tv          { return tv{kind: KindXMLDocument, s: s} }
func null() tv                    { return tv{kind: KindNull} }
func undef() tv                   { return tv{kind: KindUndefined} }
func unsup() tv                   { return tv{kind: KindUnsupported} }
func ref(i uint16) tv             { return tv{kind: KindReference, ref: i} }
func date(ms float64, z int16) tv { return tv{kind: KindDate, num: math.Float64bits(ms), tz: z} }
func obj(p ...tprop) tv           { return tv{kind: KindObject, props: p} }
func ecma(p ...tprop) tv          { return tv{kind: KindECMAArray, props: p} }
func strict(e ...tv) tv           { return tv{kind: KindStrictArray, elems: e} }
func typed(c string, p ...tprop) tv {
	return tv{kind: KindTypedObject, class: c, props: p}
}
func avm(amf3 string) tv     { return tv{kind: KindAVMPlus, s: string(hx(amf3))} }
func p(k string, v tv) tprop { return tprop{k, v} }
func vals(v ...tv) []tv      { return v }
func one(v tv) []tv          { return []tv{v} }
func hx(s string) []byte     { return must(hex.DecodeString(strings.ReplaceAll(s, " ", ""))) }
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// u16s is a string with its U16 length prefix, written independently of the
// package encoders.
func u16s(s string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...) }
func f64(f float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }

// refEncode is a plain reference encoder of value trees, independent of the
// package's encoders; it builds the wire bytes of the larger cases.
func refEncode(v ...tv) []byte {
	var b []byte
	for _, x := range v {
		b = refAppend(b, x)
	}
	return b
}

func refAppend(b []byte, v tv) []byte {
	u32 := func(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	props := func(b []byte, ps []tprop) []byte {
		for _, p := range ps {
			b = refAppend(append(b, u16s(p.key)...), p.val)
		}
		return append(b, 0, 0, 9)
	}
	switch v.kind {
	case KindNumber:
		return append(append(b, 0), binary.BigEndian.AppendUint64(nil, v.num)...)
	case KindBoolean:
		if v.b {
			return append(b, 1, 1)
		}
		return append(b, 1, 0)
	case KindString:
		return append(append(b, 2), u16s(v.s)...)
	case KindLongString:
		return append(append(append(b, 0x0C), u32(len(v.s))...), v.s...)
	case KindXMLDocument:
		return append(append(append(b, 0x0F), u32(len(v.s))...), v.s...)
	case KindNull:
		return append(b, 5)
	case KindUndefined:
		return append(b, 6)
	case KindUnsupported:
		return append(b, 0x0D)
	case KindReference:
		return append(b, 7, byte(v.ref>>8), byte(v.ref))
	case KindDate:
		b = append(append(b, 0x0B), binary.BigEndian.AppendUint64(nil, v.num)...)
		return append(b, byte(uint16(v.tz)>>8), byte(v.tz))
	case KindObject:
		return props(append(b, 3), v.props)
	case KindECMAArray:
		return props(append(append(b, 8), u32(len(v.props))...), v.props)
	case KindTypedObject:
		return props(append(append(b, 0x10), u16s(v.class)...), v.props)
	case KindStrictArray:
		b = append(append(b, 0x0A), u32(len(v.elems))...)
		for _, e := range v.elems {
			b = refAppend(b, e)
		}
		return b
	case KindAVMPlus:
		return append(append(b, 0x11), v.s...)
	}
	panic("refAppend: bad kind " + v.kind.String())
}

// tcase is one row of the package's single case table. It drives the decode
// and encode tests, the truncation tests, the fuzz seeds and the benchmarks.
type tcase struct {
	name string
	wire []byte // a message body: one or more top-level values
	vals []tv   // the top-level values wire decodes to

	// lenient marks wire the encoders never produce (a Boolean byte other
	// than 0/1, a wrong ECMA count): decode-only, and AppendValue
	// normalises it.
	lenient bool
	// noEncode marks trees the exported primitives cannot express (a Long
	// String short enough for a String); AppendValue still reproduces wire.
	noEncode bool
	// enc, when set, encodes the case the way a server would, with the
	// exported primitives; otherwise the encode test walks vals.
	enc func([]byte) []byte
	// bench marks realistic message bodies measured by the benchmarks.
	bench bool
}

// Realistic RTMP message bodies.
var (
	connectFFmpeg = vals(str("connect"), num(1), obj(
		p("app", str("live")),
		p("type", str("nonprivate")),
		p("flashVer", str("FMLE/3.0 (compatible; FMSc/1.0)")),
		p("swfUrl", str("rtmp://127.0.0.1:1935/live")),
		p("tcUrl", str("rtmp://127.0.0.1:1935/live")),
		p("fpad", boolean(false)),
		p("capabilities", num(15)),
		p("audioCodecs", num(4071)),
		p("videoCodecs", num(252)),
		p("videoFunction", num(1)),
		p("objectEncoding", num(0)),
	))
	connectOBS = vals(str("connect"), num(1), obj(
		p("app", str("live")),
		p("type", str("nonprivate")),
		p("flashVer", str("FMLE/3.0 (compatible; FMSc/1.0)")),
		p("swfUrl", str("rtmp://live.example.com/live")),
		p("tcUrl", str("rtmp://live.example.com/live")),
		p("fourCcList", strict(str("av01"), str("vp09"), str("hvc1"))),
	))
	createStream = vals(str("createStream"), num(4), null())
	publish      = vals(str("publish"), num(5), null(), str("stream"), str("live"))
	play         = vals(str("play"), num(4), null(), str("stream"), num(-2000))
	onStatus     = vals(str("onStatus"), num(0), null(), obj(
		p("level", str("status")),
		p("code", str("NetStream.Publish.Start")),
		p("description", str("stream is now published")),
	))
	resultConnect = vals(str("_result"), num(1),
		obj(p("fmsVer", str("FMS/3,0,1,123")), p("capabilities", num(31))),
		obj(
			p("level", str("status")),
			p("code", str("NetConnection.Connect.Success")),
			p("description", str("Connection succeeded.")),
			p("objectEncoding", num(0)),
		))
	metaProps = []tprop{
		p("duration", num(0)),
		p("width", num(1920)),
		p("height", num(1080)),
		p("videodatarate", num(6000)),
		p("framerate", num(60)),
		p("videocodecid", num(7)),
		p("audiodatarate", num(160)),
		p("audiosamplerate", num(48000)),
		p("audiosamplesize", num(16)),
		p("audiochannels", num(2)),
		p("stereo", boolean(true)),
		p("audiocodecid", num(10)),
		p("2.1", boolean(false)),
		p("3.1", boolean(false)),
		p("encoder", str("obs-output module (libobs version 30.1.2)")),
		p("filesize", num(0)),
	}
	setDataFrame = vals(str("@setDataFrame"), str("onMetaData"), ecma(metaProps...))
	onMetaData   = vals(str("onMetaData"), ecma(metaProps...))
)

func encResultConnect(b []byte) []byte {
	b = AppendCommandStart(b, "_result", 1)
	b = AppendObjectStart(b)
	b = AppendPropString(b, "fmsVer", "FMS/3,0,1,123")
	b = AppendPropNumber(b, "capabilities", 31)
	b = AppendObjectEnd(b)
	b = AppendObjectStart(b)
	b = AppendPropString(b, "level", "status")
	b = AppendPropString(b, "code", "NetConnection.Connect.Success")
	b = AppendPropString(b, "description", "Connection succeeded.")
	b = AppendPropNumber(b, "objectEncoding", 0)
	return AppendObjectEnd(b)
}

func encOnStatus(b []byte) []byte {
	return AppendOnStatus(b, 0, "status", "NetStream.Publish.Start", "stream is now published")
}

func encOnMetaData(b []byte) []byte {
	b = AppendString(b, "onMetaData")
	b = AppendECMAArrayStart(b, 16)
	b = AppendPropNumber(b, "duration", 0)
	b = AppendPropNumber(b, "width", 1920)
	b = AppendPropNumber(b, "height", 1080)
	b = AppendPropNumber(b, "videodatarate", 6000)
	b = AppendPropNumber(b, "framerate", 60)
	b = AppendPropNumber(b, "videocodecid", 7)
	b = AppendPropNumber(b, "audiodatarate", 160)
	b = AppendPropNumber(b, "audiosamplerate", 48000)
	b = AppendPropNumber(b, "audiosamplesize", 16)
	b = AppendPropNumber(b, "audiochannels", 2)
	b = AppendPropBool(b, "stereo", true)
	b = AppendPropNumber(b, "audiocodecid", 10)
	b = AppendPropBool(b, "2.1", false)
	b = AppendPropBool(b, "3.1", false)
	b = AppendPropString(b, "encoder", "obs-output module (libobs version 30.1.2)")
	b = AppendPropNumber(b, "filesize", 0)
	return AppendObjectEnd(b)
}

func encCreateStream(b []byte) []byte {
	return AppendNull(AppendCommandStart(b, "createStream", 4))
}

var long70k = strings.Repeat("a", 70000)

var cases = []tcase{
	// Number (2.2).
	{name: "number/zero", wire: hx("00 0000000000000000"), vals: one(num(0))},
	{name: "number/1.5", wire: hx("00 3ff8000000000000"), vals: one(num(1.5))},
	{name: "number/-2000", wire: hx("00 c09f400000000000"), vals: one(num(-2000))},
	{name: "number/-0", wire: hx("00 8000000000000000"), vals: one(num(math.Copysign(0, -1)))},
	{name: "number/nan-payload", wire: hx("00 7ff8000000000001"), vals: one(numBits(0x7ff8000000000001))},
	{name: "number/+inf", wire: hx("00 7ff0000000000000"), vals: one(num(math.Inf(1)))},
	// Boolean (2.3).
	{name: "boolean/true", wire: hx("01 01"), vals: one(boolean(true))},
	{name: "boolean/false", wire: hx("01 00"), vals: one(boolean(false))},
	{name: "boolean/nonzero-is-true", wire: hx("01 7f"), vals: one(boolean(true)), lenient: true},
	// String (2.4) and Long String (2.14).
	{name: "string/empty", wire: hx("02 0000"), vals: one(str(""))},
	{name: "string/connect", wire: hx("02 0007 636f6e6e656374"), vals: one(str("connect"))},
	{name: "string/utf8", wire: hx("02 0005 c3a9 e282ac"), vals: one(str("é€"))},
	{name: "string/max-short", wire: cat(hx("02 ffff"), []byte(long70k[:65535])), vals: one(str(long70k[:65535]))},
	{name: "longstring/70000", wire: cat(hx("0c 00011170"), []byte(long70k)), vals: one(longStr(long70k))},
	{name: "longstring/short", wire: hx("0c 00000002 6869"), vals: one(longStr("hi")), noEncode: true},
	// XML Document (2.17).
	{name: "xml", wire: hx("0f 00000007 3c613e3c2f613e"), vals: one(xmlDoc("<a></a>"))},
	// null, undefined, unsupported (2.7, 2.8, 2.15).
	{name: "null", wire: hx("05"), vals: one(null())},
	{name: "undefined", wire: hx("06"), vals: one(undef())},
	{name: "unsupported", wire: hx("0d"), vals: one(unsup())},
	// Reference (2.9).
	{name: "reference", wire: hx("07 0102"), vals: one(ref(0x102))},
	{name: "reference/in-array", wire: hx("0a 00000002 03 000009 07 0000"), vals: one(strict(obj(), ref(0)))},
	// Date (2.13).
	{name: "date/utc", wire: cat(hx("0b"), f64(1.7e12), hx("0000")), vals: one(date(1.7e12, 0))},
	{name: "date/tz", wire: cat(hx("0b"), f64(-1), hx("ffc4")), vals: one(date(-1, -60))},
	// Object (2.5) and Object End (2.11).
	{name: "object/empty", wire: hx("03 000009"), vals: one(obj())},
	{name: "object/two", wire: hx("03 0001 61 00 3ff0000000000000 0001 62 02 0001 78 000009"),
		vals: one(obj(p("a", num(1)), p("b", str("x"))))},
	{name: "object/nested", wire: hx("03 0001 6f 03 0001 6e 05 000009 000009"),
		vals: one(obj(p("o", obj(p("n", null())))))},
	{name: "object/empty-name", wire: hx("03 0000 05 000009"), vals: one(obj(p("", null())))},
	{name: "object/duplicate-names", wire: hx("03 0001 61 0101 0001 61 0100 000009"),
		vals: one(obj(p("a", boolean(true)), p("a", boolean(false))))},
	// ECMA Array (2.10).
	{name: "ecma/empty", wire: hx("08 00000000 000009"), vals: one(ecma())},
	{name: "ecma/two", wire: hx("08 00000002 0001 77 00 4094000000000000 0001 68 00 4086800000000000 000009"),
		vals: one(ecma(p("w", num(1280)), p("h", num(720))))},
	{name: "ecma/count-too-small", wire: hx("08 00000000 0001 61 05 0001 62 06 000009"),
		vals: one(ecma(p("a", null()), p("b", undef()))), lenient: true},
	{name: "ecma/count-too-large", wire: hx("08 ffffffff 0001 61 05 000009"),
		vals: one(ecma(p("a", null()))), lenient: true},
	// Strict Array (2.12).
	{name: "strict/empty", wire: hx("0a 00000000"), vals: one(strict())},
	{name: "strict/mixed", wire: hx("0a 00000003 00 3ff0000000000000 02 0001 61 05"),
		vals: one(strict(num(1), str("a"), null()))},
	{name: "strict/nested", wire: hx("0a 00000002 0a 00000000 0a 00000001 06"),
		vals: one(strict(strict(), strict(undef())))},
	// Typed Object (2.18).
	{name: "typed/foo", wire: hx("10 0003 466f6f 0001 78 00 4000000000000000 000009"),
		vals: one(typed("Foo", p("x", num(2))))},
	{name: "typed/empty", wire: hx("10 0000 000009"), vals: one(typed(""))},
	// AVM+ (3.1): one AMF3 value.
	{name: "avm/undefined", wire: hx("11 00"), vals: one(avm("00"))},
	{name: "avm/true", wire: hx("11 03"), vals: one(avm("03"))},
	{name: "avm/int-1byte", wire: hx("11 04 7f"), vals: one(avm("04 7f"))},
	{name: "avm/int-4byte", wire: hx("11 04 ffffffff"), vals: one(avm("04 ffffffff"))},
	{name: "avm/double", wire: hx("11 05 3ff0000000000000"), vals: one(avm("05 3ff0000000000000"))},
	{name: "avm/string", wire: hx("11 06 07 616263"), vals: one(avm("06 07 616263"))},
	{name: "avm/string-ref", wire: hx("11 06 02"), vals: one(avm("06 02"))},
	{name: "avm/date", wire: hx("11 08 01 4276bf6a3d180000"), vals: one(avm("08 01 4276bf6a3d180000"))},
	{name: "avm/date-ref", wire: hx("11 08 00"), vals: one(avm("08 00"))},
	{name: "avm/bytearray", wire: hx("11 0c 05 0102"), vals: one(avm("0c 05 0102"))},
	{name: "avm/xml", wire: hx("11 0b 09 3c612f3e"), vals: one(avm("0b 09 3c612f3e"))},
	{name: "avm/array-dense", wire: hx("11 09 05 01 04 01 06 03 61"), vals: one(avm("09 05 01 04 01 06 03 61"))},
	{name: "avm/array-assoc", wire: hx("11 09 01 03 6b 04 02 01"), vals: one(avm("09 01 03 6b 04 02 01"))},
	{name: "avm/object-dynamic", wire: hx("11 0a 0b 01 03 61 04 01 01"), vals: one(avm("0a 0b 01 03 61 04 01 01"))},
	{name: "avm/object-sealed-traits-ref",
		wire: hx("11 09 05 01 0a 13 07 466f6f 03 78 04 01 0a 01 04 02"),
		vals: one(avm("09 05 01 0a 13 07 466f6f 03 78 04 01 0a 01 04 02"))},
	{name: "avm/object-ref", wire: hx("11 0a 00"), vals: one(avm("0a 00"))},
	{name: "avm/vector-int", wire: hx("11 0d 05 00 00000001 00000002"), vals: one(avm("0d 05 00 00000001 00000002"))},
	{name: "avm/vector-double", wire: hx("11 0f 03 01 3ff0000000000000"), vals: one(avm("0f 03 01 3ff0000000000000"))},
	{name: "avm/vector-object", wire: hx("11 10 05 00 01 01 06 03 61"), vals: one(avm("10 05 00 01 01 06 03 61"))},
	{name: "avm/dictionary", wire: hx("11 11 03 00 06 03 6b 04 05"), vals: one(avm("11 03 00 06 03 6b 04 05"))},
	{name: "avm/in-object", wire: hx("03 0001 61 11 04 01 000009"), vals: one(obj(p("a", avm("04 01"))))},

	// Realistic RTMP command and data message bodies.
	{name: "cmd/connect-ffmpeg", wire: refEncode(connectFFmpeg...), vals: connectFFmpeg, bench: true},
	{name: "cmd/connect-obs", wire: refEncode(connectOBS...), vals: connectOBS, bench: true},
	{name: "cmd/createStream", wire: refEncode(createStream...), vals: createStream, enc: encCreateStream, bench: true},
	{name: "cmd/publish", wire: refEncode(publish...), vals: publish, bench: true},
	{name: "cmd/play", wire: refEncode(play...), vals: play, bench: true},
	{name: "cmd/onStatus", wire: refEncode(onStatus...), vals: onStatus, enc: encOnStatus, bench: true},
	{name: "cmd/_result-connect", wire: refEncode(resultConnect...), vals: resultConnect, enc: encResultConnect, bench: true},
	{name: "data/@setDataFrame", wire: refEncode(setDataFrame...), vals: setDataFrame, bench: true},
	{name: "data/onMetaData", wire: refEncode(onMetaData...), vals: onMetaData, enc: encOnMetaData, bench: true},
}
