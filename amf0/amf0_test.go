package amf0

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// toTV converts a decoded Value to the table's tree form.
func toTV(v Value) tv {
	t := tv{kind: v.Kind()}
	switch t.kind {
	case KindNumber, KindDate:
		t.num = math.Float64bits(v.Number())
		t.tz = v.TimeZone()
	case KindBoolean:
		t.b = v.Bool()
	case KindString, KindLongString, KindXMLDocument, KindAVMPlus:
		t.s = string(v.Bytes())
	case KindReference:
		t.ref = v.RefIndex()
	case KindStrictArray:
		for i := range v.Len() {
			k, e := v.Field(i)
			if k != nil {
				panic("strict array element with a key")
			}
			t.elems = append(t.elems, toTV(e))
		}
	case KindObject, KindECMAArray, KindTypedObject:
		t.class = string(v.ClassName())
		for i := range v.Len() {
			k, e := v.Field(i)
			t.props = append(t.props, tprop{string(k), toTV(e)})
		}
	}
	return t
}

func docTV(d *Document) []tv {
	var out []tv
	for i := range d.Len() {
		out = append(out, toTV(d.At(i)))
	}
	return out
}

// encodeTV encodes a tree with the exported primitives.
func encodeTV(b []byte, v tv) []byte {
	props := func(b []byte, ps []tprop) []byte {
		for _, p := range ps {
			b = encodeTV(AppendKey(b, p.key), p.val)
		}
		return AppendObjectEnd(b)
	}
	switch v.kind {
	case KindNumber:
		return AppendNumber(b, math.Float64frombits(v.num))
	case KindBoolean:
		return AppendBoolean(b, v.b)
	case KindString, KindLongString:
		if len(v.s)%2 == 0 {
			return AppendString(b, v.s)
		}
		return AppendStringBytes(b, []byte(v.s))
	case KindXMLDocument:
		return AppendXMLDocument(b, v.s)
	case KindNull:
		return AppendNull(b)
	case KindUndefined:
		return AppendUndefined(b)
	case KindUnsupported:
		return AppendUnsupported(b)
	case KindReference:
		return AppendReference(b, v.ref)
	case KindDate:
		return AppendDate(b, math.Float64frombits(v.num), v.tz)
	case KindObject:
		return props(AppendObjectStart(b), v.props)
	case KindECMAArray:
		return props(AppendECMAArrayStart(b, uint32(len(v.props))), v.props)
	case KindTypedObject:
		return props(AppendTypedObjectStart(b, v.class), v.props)
	case KindStrictArray:
		b = AppendStrictArrayStart(b, uint32(len(v.elems)))
		for _, e := range v.elems {
			b = encodeTV(b, e)
		}
		return b
	case KindAVMPlus:
		return AppendAVMPlus(b, []byte(v.s))
	}
	panic("encodeTV: bad kind")
}

func appendAll(b []byte, d *Document) []byte {
	for i := range d.Len() {
		b = AppendValue(b, d.At(i))
	}
	return b
}

func TestDecode(t *testing.T) {
	var d Document // reused across cases on purpose
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := d.Decode(c.wire)
			if err != nil || n != len(c.wire) {
				t.Fatalf("Decode = %d, %v; want %d, nil", n, err, len(c.wire))
			}
			if got := docTV(&d); !reflect.DeepEqual(got, c.vals) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, c.vals)
			}
			var raw []byte
			for i := range d.Len() {
				raw = append(raw, d.At(i).Raw()...)
			}
			if !bytes.Equal(raw, c.wire) {
				t.Fatalf("Raw concatenation differs from input")
			}
		})
	}
}

func TestDecodeOne(t *testing.T) {
	var d Document
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d.Reset()
			b := c.wire
			for len(b) > 0 {
				n, err := d.DecodeOne(b)
				if err != nil || n == 0 {
					t.Fatalf("DecodeOne = %d, %v", n, err)
				}
				if got := d.At(d.Len() - 1).Raw(); !bytes.Equal(got, b[:n]) {
					t.Fatalf("Raw = %x, want %x", got, b[:n])
				}
				b = b[n:]
			}
			if got := docTV(&d); !reflect.DeepEqual(got, c.vals) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, c.vals)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	for _, c := range cases {
		if c.lenient || c.noEncode {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var got []byte
			for _, v := range c.vals {
				got = encodeTV(got, v)
			}
			if !bytes.Equal(got, c.wire) {
				t.Fatalf("encoded\n%x\nwant\n%x", got, c.wire)
			}
			if c.enc != nil {
				if got := c.enc([]byte("prefix")); !bytes.Equal(got, append([]byte("prefix"), c.wire...)) {
					t.Fatalf("server encoder wrote\n%x\nwant\n%x", got[6:], c.wire)
				}
			}
		})
	}
}

func TestAppendValue(t *testing.T) {
	var d, d2 Document
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := d.Decode(c.wire); err != nil {
				t.Fatal(err)
			}
			out := appendAll(nil, &d)
			if !c.lenient {
				if !bytes.Equal(out, c.wire) {
					t.Fatalf("AppendValue\n%x\nwant\n%x", out, c.wire)
				}
				return
			}
			if bytes.Equal(out, c.wire) {
				t.Fatalf("lenient case re-encoded unchanged; is it really lenient?")
			}
			if _, err := d2.Decode(out); err != nil {
				t.Fatal(err)
			}
			if got := docTV(&d2); !reflect.DeepEqual(got, c.vals) {
				t.Fatalf("re-decoded\n%+v\nwant\n%+v", got, c.vals)
			}
			if !bytes.Equal(appendAll(nil, &d2), out) {
				t.Fatalf("normalised form is not a fixed point")
			}
		})
	}
	if got := AppendValue([]byte{1}, Value{}); !bytes.Equal(got, []byte{1}) {
		t.Fatalf("AppendValue(zero) = %x", got)
	}
}

// TestTruncated cuts every case at every byte: a cut on a top-level boundary
// decodes the values before it, any other cut is ErrShort and keeps the
// complete values before it.
func TestTruncated(t *testing.T) {
	var d Document
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := d.Decode(c.wire); err != nil {
				t.Fatal(err)
			}
			bounds := []int{0}
			for i := range d.Len() {
				bounds = append(bounds, bounds[i]+len(d.At(i).Raw()))
			}
			for i := 0; i < len(c.wire); i++ {
				prev, k := 0, 0
				for k < len(bounds) && bounds[k] <= i {
					prev = bounds[k]
					k++
				}
				n, err := d.Decode(c.wire[:i])
				if prev == i {
					if err != nil || n != i || d.Len() != k-1 {
						t.Fatalf("cut at %d (boundary): %d, %v, %d values", i, n, err, d.Len())
					}
					continue
				}
				if !errors.Is(err, ErrShort) || n != prev || d.Len() != k-1 {
					t.Fatalf("cut at %d: %d, %v, %d values; want %d, ErrShort, %d values", i, n, err, d.Len(), prev, k-1)
				}
				if n, err := d.DecodeOne(c.wire[prev:i]); n != 0 || !errors.Is(err, ErrShort) {
					t.Fatalf("DecodeOne cut at %d: %d, %v", i, n, err)
				}
			}
		})
	}
}

func nest(open string, close string, n int) []byte {
	return hx(strings.Repeat(open, n) + "05" + strings.Repeat(close, n))
}

// hostile lists inputs that must be rejected with a given sentinel.
var hostile = []struct {
	name string
	wire []byte
	err  error
}{
	{"empty-strict-count-max", hx("0a ffffffff"), ErrShort},
	{"strict-count-max-some-bytes", hx("0a ffffffff 05 05 05"), ErrShort},
	{"strict-too-long", cat(hx("0a 00010001"), bytes.Repeat([]byte{5}, 65537)), ErrStrictArrayTooLong},
	{"longstring-len-max", hx("0c ffffffff 6162"), ErrShort},
	{"xml-len-max", hx("0f ffffffff"), ErrShort},
	{"string-len-max", hx("02 ffff 6162"), ErrShort},
	{"typed-class-len-max", hx("10 ffff 41"), ErrShort},
	{"key-len-max", hx("03 ffff 41"), ErrShort},
	{"object-no-end", hx("03 0001 61 05"), ErrShort},
	{"object-end-only-two", hx("03 0000"), ErrShort},
	{"ecma-no-end", hx("08 00000001 0001 61 05"), ErrShort},
	{"ecma-short-count", hx("08 0000"), ErrShort},
	{"number-short", hx("00 3ff0"), ErrShort},
	{"date-short", hx("0b 0000000000000000 00"), ErrShort},
	{"reference-short", hx("07 00"), ErrShort},
	{"boolean-short", hx("01"), ErrShort},
	{"movieclip", hx("04"), ErrReservedMarker},
	{"recordset", hx("0e"), ErrReservedMarker},
	{"recordset-in-object", hx("03 0001 61 0e 000009"), ErrReservedMarker},
	{"unknown-12", hx("12"), ErrUnknownMarker},
	{"unknown-ff", hx("ff"), ErrUnknownMarker},
	{"unknown-in-array", hx("0a 00000001 80"), ErrUnknownMarker},
	{"object-end-top", hx("09"), ErrUnexpectedObjectEnd},
	{"object-end-after-name", hx("03 0001 61 09"), ErrUnexpectedObjectEnd},
	{"object-end-in-strict", hx("0a 00000001 09"), ErrUnexpectedObjectEnd},
	{"depth-object", nest("03 0001 61 ", " 000009", MaxDepth+1), ErrDepth},
	{"depth-ecma", nest("08 00000001 0001 61 ", " 000009", MaxDepth+1), ErrDepth},
	{"depth-strict", nest("0a 00000001 ", "", MaxDepth+1), ErrDepth},
	{"depth-typed", nest("10 0001 54 0001 61 ", " 000009", MaxDepth+1), ErrDepth},
	{"depth-bomb-huge", nest("0a 00000001 ", "", 100000), ErrDepth},
	{"depth-amf3-array", hx("11" + strings.Repeat("09 03 01 ", MaxDepth+1) + "01"), ErrAMF3Unsupported},
	{"depth-amf0-then-amf3", hx(strings.Repeat("0a 00000001 ", MaxDepth-1) + "11 09 03 01 09 03 01 01"), ErrAMF3Unsupported},
	{"too-many-elements", cat(hx("08 00000000"), bytes.Repeat(hx("0000 05"), MaxElements), hx("000009")), ErrTooManyElements},
	{"amf3-externalizable", hx("11 0a 07 07 466f6f 01"), ErrAMF3Unsupported},
	{"amf3-traits-ref-undefined", hx("11 0a 01 04 01"), ErrAMF3Unsupported},
	{"amf3-unknown-marker", hx("11 12"), ErrAMF3Marker},
	{"amf3-empty", hx("11"), ErrShort},
	{"amf3-u29-short", hx("11 04 ff ff"), ErrShort},
	{"amf3-string-len-max", hx("11 06 ffffffff 61"), ErrShort},
	{"amf3-vector-count-max", hx("11 0f ffffffff 00"), ErrShort},
	{"amf3-dense-count-max", hx("11 09 ffffffff 01 01"), ErrShort},
	{"amf3-sealed-count-max", hx("11 0a ffffff f3 01"), ErrShort},
	{"amf3-dictionary-count-max", hx("11 11 ffffffff 00 01"), ErrShort},
}

func TestHostile(t *testing.T) {
	var d Document
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			n, err := d.Decode(h.wire)
			if !errors.Is(err, h.err) || n != 0 || d.Len() != 0 {
				t.Fatalf("Decode = %d, %v (%d values); want 0, %v", n, err, d.Len(), h.err)
			}
			if len(d.nodes) != 0 || len(d.kids) != 0 || len(d.stack) != 0 {
				t.Fatalf("failed decode left state: %d nodes %d kids %d stack", len(d.nodes), len(d.kids), len(d.stack))
			}
		})
	}
}

func TestDepthLimitExact(t *testing.T) {
	var d Document
	for _, w := range [][]byte{
		nest("03 0001 61 ", " 000009", MaxDepth),
		nest("0a 00000001 ", "", MaxDepth),
		hx(strings.Repeat("0a 00000001 ", MaxDepth-1) + "11 09 03 01 01"),
		hx("11" + strings.Repeat("09 03 01 ", MaxDepth) + "01"),
	} {
		if n, err := d.Decode(w); err != nil || n != len(w) {
			t.Fatalf("depth %d rejected: %v", MaxDepth, err)
		}
	}
}

func TestElementLimitExact(t *testing.T) {
	var d Document
	w := cat(hx("08 00000000"), bytes.Repeat(hx("0000 05"), MaxElements-1), hx("000009"))
	if _, err := d.Decode(w); err != nil {
		t.Fatal(err)
	}
	if d.At(0).Len() != MaxElements-1 {
		t.Fatalf("Len = %d", d.At(0).Len())
	}
	w = cat(hx("0a 00010000"), bytes.Repeat([]byte{5}, MaxStrictArrayLen))
	if _, err := d.Decode(w); !errors.Is(err, ErrTooManyElements) {
		t.Fatalf("strict array of MaxStrictArrayLen plus itself: %v", err)
	}
	// MaxElements counts the whole Document, across DecodeOne calls.
	d.Reset()
	b := bytes.Repeat([]byte{5}, MaxElements+1)
	for i := range MaxElements {
		if _, err := d.DecodeOne(b[i:]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.DecodeOne(b[MaxElements:]); !errors.Is(err, ErrTooManyElements) {
		t.Fatalf("value MaxElements+1: %v", err)
	}
}

func TestDecodeKeepsCompletePrefix(t *testing.T) {
	var d Document
	w := cat(refEncode(str("publish"), num(5), null()), hx("04"))
	n, err := d.Decode(w)
	if !errors.Is(err, ErrReservedMarker) || n != len(w)-1 || d.Len() != 3 {
		t.Fatalf("Decode = %d, %v, %d values", n, err, d.Len())
	}
	if string(d.At(0).Bytes()) != "publish" || d.At(1).Number() != 5 {
		t.Fatal("prefix values wrong")
	}
}

func TestDecodeOneInput(t *testing.T) {
	var d Document
	w := refEncode(connectFFmpeg...)
	n, err := d.DecodeOne(w)
	if err != nil {
		t.Fatal(err)
	}
	// A re-slice of the same buffer, even with a shorter end, is accepted.
	n2, err := d.DecodeOne(w[n : n+9])
	if err != nil || n2 != 9 {
		t.Fatalf("re-slice: %d, %v", n2, err)
	}
	if _, err := d.DecodeOne(append([]byte(nil), w[n+9:]...)); !errors.Is(err, ErrInputMismatch) {
		t.Fatalf("foreign buffer: %v", err)
	}
	if _, err := d.DecodeOne(w[n+9:]); err != nil {
		t.Fatal(err)
	}
	if got := docTV(&d); !reflect.DeepEqual(got, connectFFmpeg) {
		t.Fatalf("walked\n%+v", got)
	}
	// Going back to an earlier part of the buffer is allowed too.
	if _, err := d.DecodeOne(w); err != nil || d.Len() != 4 || string(d.At(3).Bytes()) != "connect" {
		t.Fatalf("earlier re-slice: %v", err)
	}
	if n, err := d.DecodeOne(nil); n != 0 || !errors.Is(err, ErrShort) {
		t.Fatalf("DecodeOne(nil) = %d, %v", n, err)
	}
	// An error leaves the Document as it was.
	if _, err := d.DecodeOne(w[:5]); !errors.Is(err, ErrShort) || d.Len() != 4 {
		t.Fatalf("failed DecodeOne changed the Document: %v, %d", err, d.Len())
	}
}

func TestAccessors(t *testing.T) {
	var d Document
	if _, err := d.Decode(refEncode(connectOBS...)); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || string(d.At(0).Bytes()) != "connect" || d.At(0).Str() != "connect" || d.At(1).Number() != 1 {
		t.Fatal("command name or transaction ID wrong")
	}
	cmd := d.At(2)
	if cmd.Kind() != KindObject || !cmd.Valid() || cmd.Len() != 6 {
		t.Fatalf("command object: %v, %d", cmd.Kind(), cmd.Len())
	}
	if got := cmd.Get("tcUrl").Str(); got != "rtmp://live.example.com/live" {
		t.Fatalf("tcUrl = %q", got)
	}
	k, v := cmd.Field(1)
	if string(k) != "type" || v.Str() != "nonprivate" {
		t.Fatalf("Field(1) = %q, %q", k, v.Str())
	}
	list := cmd.Get("fourCcList")
	if list.Kind() != KindStrictArray || list.Len() != 3 || list.Index(2).Str() != "hvc1" {
		t.Fatal("fourCcList")
	}
	if k, v := list.Field(0); k != nil || v.Str() != "av01" {
		t.Fatalf("strict Field(0) = %q, %q", k, v.Str())
	}
	if cmd.Index(0).Str() != "live" {
		t.Fatal("Index on object")
	}
	// Missing things and wrong kinds give zero results, and chain.
	zero := []Value{cmd.Get("nope"), d.At(3), d.At(-1), list.Index(3), list.Get("x"), d.At(0).Get("x"), cmd.Get("app").Get("x"), cmd.Index(-1)}
	for i, z := range zero {
		if z.Valid() || z.Kind() != KindInvalid || z.Len() != 0 || z.Bytes() != nil || z.Raw() != nil ||
			z.Number() != 0 || z.Bool() || z.Str() != "" || z.ClassName() != nil || z.TimeZone() != 0 ||
			z.RefIndex() != 0 || z.Deref().Valid() || z.Get("a").Valid() || z.Index(0).Valid() {
			t.Fatalf("zero value %d not zero", i)
		}
		if k, v := z.Field(0); k != nil || v.Valid() {
			t.Fatalf("zero value %d Field", i)
		}
	}
	app := cmd.Get("app")
	if app.Number() != 0 || app.Bool() || app.ClassName() != nil || app.TimeZone() != 0 || app.RefIndex() != 0 || app.Len() != 0 {
		t.Fatal("kind-specific accessors on a String")
	}
	if cmd.Bytes() != nil {
		t.Fatal("Bytes on an Object")
	}
	// Returned slices are capped so appending to them cannot clobber input.
	b := cmd.Get("app").Bytes()
	if cap(b) != len(b) {
		t.Fatalf("Bytes cap %d > len %d", cap(b), len(b))
	}
}

func TestAccessorsByKind(t *testing.T) {
	var d Document
	w := cat(hx("10 0003 466f6f 000009"), hx("0b"), f64(12.5), hx("fffe"), hx("01 02"), hx("07 0003"), hx("11 04 01"), hx("0f 00000002 3c3e"))
	if _, err := d.Decode(w); err != nil {
		t.Fatal(err)
	}
	if string(d.At(0).ClassName()) != "Foo" || d.At(0).Kind() != KindTypedObject {
		t.Fatal("ClassName")
	}
	if d.At(1).Number() != 12.5 || d.At(1).TimeZone() != -2 {
		t.Fatal("Date")
	}
	if !d.At(2).Bool() {
		t.Fatal("Bool")
	}
	if d.At(3).RefIndex() != 3 {
		t.Fatal("RefIndex")
	}
	if !bytes.Equal(d.At(4).Bytes(), hx("04 01")) || !bytes.Equal(d.At(4).Raw(), hx("11 04 01")) {
		t.Fatal("AVMPlus Bytes/Raw")
	}
	if d.At(5).Str() != "<>" {
		t.Fatal("XML")
	}
}

func TestDeref(t *testing.T) {
	var d Document
	// [ {a: {}}, [ ref 0, ref 1, ref 2, ref 3 ] ]: complex values are
	// numbered in the order they start: 0 outer array, 1 {a:..}, 2 {}, 3
	// inner array; ref 4 designates nothing.
	w := hx("0a 00000002 03 0001 61 03 000009 000009 0a 00000005 07 0000 07 0001 07 0002 07 0003 07 0004")
	if _, err := d.Decode(w); err != nil {
		t.Fatal(err)
	}
	outer := d.At(0)
	inner := outer.Index(1)
	want := []Value{outer, outer.Index(0), outer.Index(0).Get("a"), inner, {}}
	for i, w := range want {
		if got := inner.Index(i).Deref(); got != w {
			t.Fatalf("ref %d resolved to %v/%d, want %v", i, got.Kind(), got.i, w.Kind())
		}
	}
	if outer.Deref().Valid() {
		t.Fatal("Deref of a non-reference")
	}
}

func TestKindString(t *testing.T) {
	for k := KindInvalid; k <= KindAVMPlus; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Fatalf("Kind %d has no name", k)
		}
	}
	if got := Kind(200).String(); got != "Kind(200)" {
		t.Fatal(got)
	}
	if KindECMAArray.String() != "ECMAArray" {
		t.Fatal(KindECMAArray.String())
	}
}

func TestAppendStringSwitchesToLong(t *testing.T) {
	for _, l := range []int{0, 1, 65535, 65536, 70000} {
		s := strings.Repeat("x", l)
		want := refEncode(str(s))
		if l > 65535 {
			want = refEncode(longStr(s))
		}
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(len %d) wrong header %x", l, got[:5])
		}
		if got := AppendStringBytes(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Fatalf("AppendStringBytes(len %d) wrong header %x", l, got[:5])
		}
		if got := AppendPropString(nil, "k", s); !bytes.Equal(got, cat(u16s("k"), want)) {
			t.Fatalf("AppendPropString(len %d)", l)
		}
	}
}

func TestAppendHelpers(t *testing.T) {
	for _, c := range []struct {
		got, want []byte
	}{
		{AppendCommandStart(nil, "play", 0), refEncode(str("play"), num(0))},
		{AppendStatusObject(nil, "error", "NetStream.Play.StreamNotFound", "no such stream"),
			refEncode(obj(p("level", str("error")), p("code", str("NetStream.Play.StreamNotFound")), p("description", str("no such stream"))))},
		{AppendOnStatus(nil, 0, "status", "NetStream.Play.Start", "Started playing"),
			refEncode(str("onStatus"), num(0), null(), obj(p("level", str("status")), p("code", str("NetStream.Play.Start")), p("description", str("Started playing"))))},
		{AppendPropNull(AppendPropBool(AppendPropNumber(nil, "n", 2), "b", true), "z"),
			cat(u16s("n"), refEncode(num(2)), u16s("b"), refEncode(boolean(true)), u16s("z"), refEncode(null()))},
		{AppendKey(nil, strings.Repeat("k", 70000)), cat(hx("ffff"), []byte(strings.Repeat("k", 65535)))},
		{AppendTypedObjectStart(nil, "T"), hx("10 0001 54")},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Fatalf("got\n%x\nwant\n%x", c.got, c.want)
		}
	}
}

func TestSkipAMF3(t *testing.T) {
	for _, c := range cases {
		if c.vals[0].kind != KindAVMPlus {
			continue
		}
		b := []byte(c.vals[0].s)
		if n, err := SkipAMF3(append(b, 0xAA)); err != nil || n != len(b) {
			t.Fatalf("%s: SkipAMF3 = %d, %v; want %d", c.name, n, err, len(b))
		}
		for i := range len(b) {
			if n, err := SkipAMF3(b[:i]); n != 0 || !errors.Is(err, ErrShort) {
				t.Fatalf("%s cut at %d: %d, %v", c.name, i, n, err)
			}
		}
	}
	for _, h := range hostile {
		if h.wire[0] != 0x11 || strings.HasPrefix(h.name, "depth") {
			continue
		}
		if n, err := SkipAMF3(h.wire[1:]); n != 0 || !errors.Is(err, h.err) {
			t.Fatalf("%s: SkipAMF3 = %d, %v; want %v", h.name, n, err, h.err)
		}
	}
	if MaxAMF3Traits != 32 {
		t.Fatal("test assumes MaxAMF3Traits == 32")
	}
	// More traits than the skipper remembers: a reference to a forgotten
	// one is unsupported, a reference to a remembered one works.
	var b []byte
	b = append(b, 0x09, byte(MaxAMF3Traits+2)<<1|1, 0x01)
	for range MaxAMF3Traits + 1 {
		b = append(b, 0x0a, 0x03, 0x01) // sealed-less, non-dynamic traits
	}
	good := append(append([]byte(nil), b...), 0x0a, 0x01)
	if n, err := SkipAMF3(good); err != nil || n != len(good) {
		t.Fatalf("remembered traits ref: %d, %v", n, err)
	}
	bad := append(append([]byte(nil), b...), 0x0a, 0x81, 0x01) // U29 (32<<2 | 1)
	if _, err := SkipAMF3(bad); !errors.Is(err, ErrAMF3Unsupported) {
		t.Fatalf("forgotten traits ref: %v", err)
	}
}

func ExampleDocument_Decode() {
	body := AppendCommandStart(nil, "connect", 1)
	body = AppendObjectStart(body)
	body = AppendPropString(body, "app", "live")
	body = AppendPropString(body, "tcUrl", "rtmp://localhost/live")
	body = AppendObjectEnd(body)

	var doc Document
	if _, err := doc.Decode(body); err != nil {
		panic(err)
	}
	fmt.Printf("%s %v app=%s\n", doc.At(0).Bytes(), doc.At(1).Number(), doc.At(2).Get("app").Bytes())
	// Output: connect 1 app=live
}

func ExampleAppendOnStatus() {
	b := AppendOnStatus(nil, 0, "status", "NetStream.Publish.Start", "published")
	var doc Document
	if _, err := doc.Decode(b); err != nil {
		panic(err)
	}
	fmt.Println(doc.Len(), doc.At(3).Get("code").Str())
	// Output: 4 NetStream.Publish.Start
}

func TestAppendAny(t *testing.T) {
	got, err := AppendAny(nil, map[string]any{"b": true, "a": []any{1, "x", nil}})
	if err != nil {
		t.Fatal(err)
	}
	want := AppendObjectStart(nil)
	want = AppendKey(want, "a")
	want = AppendStrictArrayStart(want, 3)
	want = AppendNumber(want, 1)
	want = AppendString(want, "x")
	want = AppendNull(want)
	want = AppendPropBool(want, "b", true)
	want = AppendObjectEnd(want)
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}
	if _, err := AppendAny(nil, struct{}{}); !errors.Is(err, ErrGoValue) {
		t.Fatalf("unsupported type: %v", err)
	}
	deep := any(nil)
	for range MaxDepth + 2 {
		deep = []any{deep}
	}
	if _, err := AppendAny(nil, deep); !errors.Is(err, ErrGoValue) {
		t.Fatalf("too deep: %v", err)
	}
}
