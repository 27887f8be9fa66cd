package amf0

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode checks, for any input: no panic; storage bounded by the input
// size; Raw of the top-level values spans exactly the bytes consumed;
// DecodeOne walks to the same values; and AppendValue round-trips: its output
// is the input itself, or (after the documented normalisations) decodes to
// equal values and is a fixed point of decode-append.
func FuzzDecode(f *testing.F) {
	for _, c := range cases {
		if len(c.wire) <= 4096 {
			f.Add(c.wire)
		}
	}
	for _, h := range hostile {
		if len(h.wire) <= 4096 {
			f.Add(h.wire)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Document
		n, err := d.Decode(b)
		if n < 0 || n > len(b) || (err == nil && n != len(b)) {
			t.Fatalf("Decode = %d, %v for %d bytes", n, err, len(b))
		}
		// Every node stands for a distinct marker byte of the input.
		if len(d.nodes) > len(b) || cap(d.nodes) > 2*len(b)+64 || cap(d.kids) > 2*len(b)+64 ||
			cap(d.stack) > 2*len(b)+64 || cap(d.top) > 2*len(b)+64 {
			t.Fatalf("storage not bounded by input: %d bytes, nodes %d/%d kids %d stack %d top %d",
				len(b), len(d.nodes), cap(d.nodes), cap(d.kids), cap(d.stack), cap(d.top))
		}
		var raw []byte
		for i := range d.Len() {
			raw = append(raw, d.At(i).Raw()...)
		}
		if !bytes.Equal(raw, b[:n]) {
			t.Fatalf("Raw spans %x, consumed %x", raw, b[:n])
		}
		got := docTV(&d)

		var w Document
		for rest := b[:n]; len(rest) > 0; {
			m, err := w.DecodeOne(rest)
			if err != nil {
				t.Fatalf("DecodeOne failed on decodable bytes: %v", err)
			}
			rest = rest[m:]
		}
		if !reflect.DeepEqual(docTV(&w), got) {
			t.Fatal("DecodeOne walk differs from Decode")
		}

		out := appendAll(nil, &d)
		if bytes.Equal(out, b[:n]) {
			return
		}
		var d2 Document
		if n2, err := d2.Decode(out); err != nil || n2 != len(out) {
			t.Fatalf("re-encoding does not decode: %v\nin  %x\nout %x", err, b[:n], out)
		}
		if !reflect.DeepEqual(docTV(&d2), got) {
			t.Fatalf("round trip changed values\nin  %x\nout %x", b[:n], out)
		}
		if !bytes.Equal(appendAll(nil, &d2), out) {
			t.Fatalf("normalised encoding is not a fixed point")
		}
	})
}

// FuzzAMF3Skip checks SkipAMF3 never panics, consumes no more than it is
// given, is a pure function of its input prefix, and rejects every strict
// prefix of a value it accepts (a value's end is self-delimited).
func FuzzAMF3Skip(f *testing.F) {
	for _, c := range cases {
		if c.vals[0].kind == KindAVMPlus {
			f.Add([]byte(c.vals[0].s))
		}
	}
	for _, h := range hostile {
		if h.wire[0] == 0x11 {
			f.Add(h.wire[1:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := SkipAMF3(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error with n = %d", n)
			}
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrAMF3Unsupported) && !errors.Is(err, ErrAMF3Marker) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("SkipAMF3 = %d for %d bytes", n, len(b))
		}
		if n2, err := SkipAMF3(b[:n]); err != nil || n2 != n {
			t.Fatalf("value alone: %d, %v; want %d", n2, err, n)
		}
		if n2, err := SkipAMF3(b[:n-1]); err == nil {
			t.Fatalf("strict prefix accepted: %d", n2)
		}
		// Embedded after the AVM+ marker, the same bytes form one value.
		var d Document
		w := append([]byte{markerAVMPlus}, b[:n]...)
		if m, err := d.Decode(w); err != nil || m != len(w) || !bytes.Equal(d.At(0).Bytes(), b[:n]) {
			t.Fatalf("as AVM+ value: %d, %v", m, err)
		}
	})
}
