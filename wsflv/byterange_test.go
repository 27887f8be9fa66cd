package wsflv_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/wsflv"
)

// rangeCase is one Range field value for a representation of size bytes and
// the answer.
type rangeCase struct {
	name        string
	value       string
	size        int64
	res         wsflv.RangeResult
	first, last int64
}

func rangeCases() []rangeCase {
	const ign, part, unsat = wsflv.RangeIgnored, wsflv.RangePartial, wsflv.RangeUnsatisfiable
	return []rangeCase{
		// One range, the three forms of RFC 9110 section 14.1.2.
		{"first-last", "bytes=0-499", 1000, part, 0, 499},
		{"middle", "bytes=500-999", 1000, part, 500, 999},
		{"one byte", "bytes=7-7", 1000, part, 7, 7},
		{"open end", "bytes=9500-", 10000, part, 9500, 9999},
		{"from zero (FFmpeg's first request)", "bytes=0-", 10000, part, 0, 9999},
		{"suffix", "bytes=-500", 10000, part, 9500, 9999},
		{"last byte", "bytes=-1", 10000, part, 9999, 9999},
		{"last past the end", "bytes=500-100000", 1000, part, 500, 999},
		{"suffix longer than the file", "bytes=-5000", 1000, part, 0, 999},
		{"unit in upper case", "BYTES=1-2", 1000, part, 1, 2},
		{"unit in mixed case", "Bytes=1-2", 1000, part, 1, 2},
		{"leading zeros", "bytes=0001-0002", 1000, part, 1, 2},
		{"whitespace around the element", "bytes= 1-2 ", 1000, part, 1, 2},
		{"empty list elements", "bytes=,1-2,", 1000, part, 1, 2},
		{"18 digits", "bytes=0-999999999999999999", 1000, part, 0, 999},

		// Unsatisfiable: 416 with bytes */size.
		{"first at the end", "bytes=1000-", 1000, unsat, 0, 0},
		{"first past the end", "bytes=5000-6000", 1000, unsat, 0, 0},
		{"suffix of zero", "bytes=-0", 1000, unsat, 0, 0},
		{"huge first", "bytes=999999999999999999-", 1000, unsat, 0, 0},

		// Ignored: 200 and the whole representation.
		{"no field", "", 1000, ign, 0, 0},
		{"other unit", "items=0-1", 1000, ign, 0, 0},
		{"no equals sign", "bytes 0-1", 1000, ign, 0, 0},
		{"no ranges", "bytes=", 1000, ign, 0, 0},
		{"only commas", "bytes=, ,", 1000, ign, 0, 0},
		{"no dash", "bytes=5", 1000, ign, 0, 0},
		{"two dashes", "bytes=1-2-3", 1000, ign, 0, 0},
		{"dash only", "bytes=-", 1000, ign, 0, 0},
		{"last before first", "bytes=5-4", 1000, ign, 0, 0},
		{"sign", "bytes=+1-2", 1000, ign, 0, 0},
		{"negative suffix", "bytes=--1", 1000, ign, 0, 0},
		{"space inside", "bytes=1 -2", 1000, ign, 0, 0},
		{"19 digits", "bytes=0-1000000000000000000", 1000, ign, 0, 0},
		{"hex", "bytes=0x1-2", 1000, ign, 0, 0},
		{"two ranges", "bytes=0-1,5-6", 1000, ign, 0, 0},
		{"two ranges, none satisfiable", "bytes=5000-,6000-", 1000, ign, 0, 0},
		{"empty representation", "bytes=0-", 0, ign, 0, 0},
		{"empty representation, suffix", "bytes=-5", 0, ign, 0, 0},
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range rangeCases() {
		var v []byte
		if c.value != "" {
			v = []byte(c.value)
		}
		r, res := wsflv.ParseRange(v, c.size)
		if res != c.res || r.First != c.first || r.Last != c.last {
			t.Errorf("%s: ParseRange(%q, %d) = %d-%d %v, want %d-%d %v", c.name, c.value, c.size, r.First, r.Last, res, c.first, c.last, c.res)
		}
	}
}

func TestAppendContentRange(t *testing.T) {
	for _, c := range []struct {
		r    wsflv.ByteRange
		res  wsflv.RangeResult
		size int64
		want string
	}{
		{wsflv.ByteRange{First: 0, Last: 499}, wsflv.RangePartial, 1000, "bytes 0-499/1000"},
		{wsflv.ByteRange{First: 9999, Last: 9999}, wsflv.RangePartial, 10000, "bytes 9999-9999/10000"},
		{wsflv.ByteRange{}, wsflv.RangeUnsatisfiable, 1000, "bytes */1000"},
		{wsflv.ByteRange{}, wsflv.RangeIgnored, 1000, ""},
	} {
		if got := string(wsflv.AppendContentRange([]byte("x"), c.r, c.res, c.size)); got != "x"+c.want {
			t.Errorf("AppendContentRange(%v, %v, %d) = %q, want %q", c.r, c.res, c.size, got, "x"+c.want)
		}
	}
	if got := string(wsflv.AppendRange(nil, wsflv.ByteRange{First: 5, Last: 9})); got != "bytes=5-9" {
		t.Errorf("AppendRange = %q", got)
	}
}

// checkRange checks the properties of ParseRange(v, size): a partial range
// lies inside the representation, and asks for itself again (round trip);
// only a non-empty representation is partial or unsatisfiable; and net/http's
// http.ServeContent, given the same field, answers the same range with 206
// and an unsatisfiable one with 416 (it is more lenient: what it accepts and
// ParseRange ignores is not checked). It returns the first difference, or "".
func checkRange(v []byte, size int64) string {
	r, res := wsflv.ParseRange(v, size)
	switch res {
	case wsflv.RangeIgnored:
		if r != (wsflv.ByteRange{}) {
			return "ignored with a range " + strconv.FormatInt(r.First, 10) + "-" + strconv.FormatInt(r.Last, 10)
		}
		return ""
	case wsflv.RangePartial:
		if r.First < 0 || r.First > r.Last || r.Last >= size {
			return "range " + strconv.FormatInt(r.First, 10) + "-" + strconv.FormatInt(r.Last, 10) + " outside " + strconv.FormatInt(size, 10) + " bytes"
		}
		if r2, res2 := wsflv.ParseRange(wsflv.AppendRange(nil, r), size); res2 != res || r2 != r {
			return "AppendRange does not round-trip"
		}
	case wsflv.RangeUnsatisfiable:
		if r != (wsflv.ByteRange{}) || size <= 0 {
			return "unsatisfiable with a range, or for an empty representation"
		}
	default:
		return "result " + res.String()
	}
	// net/http wants the unit in lower case (RFC 9110: any case). A HEAD
	// request: it reads no content.
	hv := bytes.Clone(v)
	copy(hv, "bytes=")
	req := httptest.NewRequest("HEAD", "/", nil)
	req.Header.Set("Range", string(hv))
	w := httptest.NewRecorder()
	http.ServeContent(w, req, "", time.Time{}, &sizedContent{size: size})
	want := string(wsflv.AppendContentRange(nil, r, res, size))
	switch {
	case res == wsflv.RangePartial && (w.Code != http.StatusPartialContent || w.Header().Get("Content-Range") != want):
		return "net/http answers " + strconv.Itoa(w.Code) + " " + strconv.Quote(w.Header().Get("Content-Range")) + ", want 206 " + strconv.Quote(want)
	case res == wsflv.RangeUnsatisfiable && w.Code != http.StatusRequestedRangeNotSatisfiable:
		// net/http reads a suffix of 0 bytes as an empty range at the end;
		// RFC 9110 section 14.1.1 calls it unsatisfiable.
		spec := strings.Trim(string(v[len("bytes="):]), ", \t")
		if strings.HasPrefix(spec, "-") && strings.Trim(spec[1:], "0") == "" {
			return ""
		}
		return "net/http answers " + strconv.Itoa(w.Code) + " " + strconv.Quote(w.Header().Get("Content-Range")) + ", want 416"
	}
	return ""
}

// sizedContent is content of a size for http.ServeContent that is never read
// (HEAD requests): only Seek works.
type sizedContent struct{ size, off int64 }

func (c *sizedContent) Read([]byte) (int, error) { return 0, errors.New("read") }

func (c *sizedContent) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		c.off = off
	case io.SeekCurrent:
		c.off += off
	case io.SeekEnd:
		c.off = c.size + off
	}
	return c.off, nil
}

func TestParseRangeNetHTTP(t *testing.T) {
	for _, c := range rangeCases() {
		if d := checkRange([]byte(c.value), c.size); d != "" {
			t.Errorf("%s (%q, %d): %s", c.name, c.value, c.size, d)
		}
	}
}

// FuzzParseRange checks ParseRange on arbitrary field values and sizes:
// no panic, the properties of checkRange.
func FuzzParseRange(f *testing.F) {
	for _, c := range rangeCases() {
		f.Add([]byte(c.value), c.size)
	}
	f.Fuzz(func(t *testing.T, v []byte, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		if d := checkRange(v, size); d != "" {
			t.Fatalf("ParseRange(%q, %d): %s", v, size, d)
		}
	})
}

func BenchmarkParseRange(b *testing.B) {
	v := []byte("bytes=123456-")
	b.ReportAllocs()
	for b.Loop() {
		wsflv.ParseRange(v, 1<<30)
	}
}
