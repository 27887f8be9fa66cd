package amf0

import (
	"strings"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	for _, c := range cases {
		if !c.bench {
			continue
		}
		b.Run(strings.TrimPrefix(strings.TrimPrefix(c.name, "cmd/"), "data/"), func(b *testing.B) {
			var d Document
			b.ReportAllocs()
			b.SetBytes(int64(len(c.wire)))
			for b.Loop() {
				if _, err := d.Decode(c.wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeConnectAndRead is what a server does with a connect
// command: decode it and read the fields it needs.
func BenchmarkDecodeConnectAndRead(b *testing.B) {
	w := refEncode(connectFFmpeg...)
	var d Document
	b.ReportAllocs()
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		if _, err := d.Decode(w); err != nil {
			b.Fatal(err)
		}
		cmd := d.At(2)
		if len(d.At(0).Bytes()) == 0 || d.At(1).Number() != 1 || len(cmd.Get("app").Bytes()) == 0 ||
			len(cmd.Get("tcUrl").Bytes()) == 0 || cmd.Get("objectEncoding").Number() != 0 {
			b.Fatal("bad connect")
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range cases {
		if c.enc == nil {
			continue
		}
		b.Run(strings.TrimPrefix(strings.TrimPrefix(c.name, "cmd/"), "data/"), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.wire)))
			for b.Loop() {
				buf = c.enc(buf[:0])
			}
		})
	}
}

func BenchmarkAppendValue(b *testing.B) {
	for _, name := range []string{"cmd/connect-ffmpeg", "data/@setDataFrame"} {
		var c tcase
		for _, x := range cases {
			if x.name == name {
				c = x
			}
		}
		var d Document
		if _, err := d.Decode(c.wire); err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimPrefix(strings.TrimPrefix(c.name, "cmd/"), "data/"), func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			b.SetBytes(int64(len(c.wire)))
			for b.Loop() {
				buf = appendAll(buf[:0], &d)
			}
		})
	}
}

func BenchmarkSkipAMF3(b *testing.B) {
	w := []byte(avm("09 05 01 0a 13 07 466f6f 03 78 04 01 0a 01 04 02").s)
	b.ReportAllocs()
	b.SetBytes(int64(len(w)))
	for b.Loop() {
		if _, err := SkipAMF3(w); err != nil {
			b.Fatal(err)
		}
	}
}
