//go:build !race

package amf0

import "testing"

// walk touches every accessor of every value, so the allocation tests cover
// reading as well as decoding.
func walk(v Value) (sum int) {
	sum += int(v.Kind()) + len(v.Bytes()) + len(v.Raw()) + len(v.ClassName()) + int(v.TimeZone()) + int(v.RefIndex())
	if v.Bool() || v.Number() > 0 || v.Deref().Valid() {
		sum++
	}
	for i := range v.Len() {
		k, c := v.Field(i)
		sum += len(k) + walk(c) + int(v.Index(i).Kind())
		if v.Get("app").Valid() {
			sum++
		}
	}
	return sum
}

func TestDecodeAllocs(t *testing.T) {
	var d Document
	for _, c := range cases {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := d.Decode(c.wire); err != nil {
				t.Fatal(err)
			}
			for i := range d.Len() {
				v := d.At(i)
				_ = v.Kind()
				_ = v.Get("app").Bytes()
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Decode allocates %v times per run", c.name, allocs)
		}
	}
}

func TestDecodeOneAllocs(t *testing.T) {
	var d Document
	for _, c := range cases {
		allocs := testing.AllocsPerRun(100, func() {
			d.Reset()
			for b := c.wire; len(b) > 0; {
				n, err := d.DecodeOne(b)
				if err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
		})
		if allocs != 0 {
			t.Errorf("%s: DecodeOne allocates %v times per run", c.name, allocs)
		}
	}
}

func TestAccessorAllocs(t *testing.T) {
	var d Document
	for _, c := range cases {
		if _, err := d.Decode(c.wire); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			cmd := d.At(2)
			_ = cmd.Get("tcUrl").Bytes()
			_ = cmd.Get("objectEncoding").Number()
			for i := range d.Len() {
				_ = walk(d.At(i))
			}
		})
		if allocs != 0 {
			t.Errorf("%s: accessors allocate %v times per run", c.name, allocs)
		}
	}
}

func TestHostileAllocs(t *testing.T) {
	var d Document
	for _, h := range hostile {
		allocs := testing.AllocsPerRun(10, func() { _, _ = d.Decode(h.wire) })
		if allocs != 0 {
			t.Errorf("%s: rejecting allocates %v times per run", h.name, allocs)
		}
	}
}

func TestEncodeAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	var d Document
	for _, c := range cases {
		if _, err := d.Decode(c.wire); err != nil {
			t.Fatal(err)
		}
		if c.enc != nil {
			if a := testing.AllocsPerRun(100, func() { buf = c.enc(buf[:0]) }); a != 0 {
				t.Errorf("%s: encoder allocates %v times per run", c.name, a)
			}
		}
		if len(c.wire) > cap(buf) {
			continue
		}
		if a := testing.AllocsPerRun(100, func() { buf = appendAll(buf[:0], &d) }); a != 0 {
			t.Errorf("%s: AppendValue allocates %v times per run", c.name, a)
		}
	}
	a := testing.AllocsPerRun(100, func() {
		b := AppendStatusObject(buf[:0], "status", "NetStream.Play.Start", "Started")
		b = AppendDate(b, 1, 0)
		b = AppendReference(AppendUndefined(AppendUnsupported(b)), 1)
		b = AppendXMLDocument(b, "<a/>")
		b = AppendTypedObjectStart(b, "T")
		b = AppendPropNull(b, "n")
		b = AppendObjectEnd(AppendStrictArrayStart(b, 0))
		b = AppendAVMPlus(b, []byte{4, 1})
		buf = AppendStringBytes(b, b[:3])
	})
	if a != 0 {
		t.Errorf("primitives allocate %v times per run", a)
	}
}

func TestSkipAMF3Allocs(t *testing.T) {
	for _, c := range cases {
		if c.vals[0].kind != KindAVMPlus {
			continue
		}
		b := []byte(c.vals[0].s)
		if a := testing.AllocsPerRun(100, func() { _, _ = SkipAMF3(b) }); a != 0 {
			t.Errorf("%s: SkipAMF3 allocates %v times per run", c.name, a)
		}
	}
}
