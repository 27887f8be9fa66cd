package vod

import (
	"bytes"
	"testing"

	"github.com/quaverlive/quaver/wsflv"
)

// cutRange, exhaustively on small representations: the prefix part and the
// file span it returns are exactly the range's bytes of prefix + file[pos:end].
func TestCutRange(t *testing.T) {
	file := []byte("0123456789abcdefghij")
	for _, prefix := range []string{"", "P", "PQRST"} {
		for pos := int64(0); pos <= 4; pos += 2 {
			end := int64(len(file)) - 3
			whole := append([]byte(prefix), file[pos:end]...)
			for first := int64(0); first < int64(len(whole)); first++ {
				for last := first; last < int64(len(whole)); last++ {
					var p []byte
					if prefix != "" {
						p = []byte(prefix)
					}
					gp, gpos, gend := cutRange(p, pos, end, wsflv.ByteRange{First: first, Last: last})
					if gpos < pos || gend > end || gpos > gend {
						t.Fatalf("prefix %q, file %d-%d, range %d-%d: span %d-%d", prefix, pos, end, first, last, gpos, gend)
					}
					if gp != nil && len(gp) == 0 {
						t.Fatalf("prefix %q, range %d-%d: empty, not nil, prefix part", prefix, first, last)
					}
					got := append(bytes.Clone(gp), file[gpos:gend]...)
					if want := whole[first : last+1]; !bytes.Equal(got, want) {
						t.Fatalf("prefix %q, file %d-%d, range %d-%d: %q, want %q", prefix, pos, end, first, last, got, want)
					}
				}
			}
		}
	}
}
