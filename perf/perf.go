// Package perf reads pprof profiles for Quaver's tuning loop: the top sites of a
// CPU or allocation profile, the difference between two profiles, and a check
// that no allocation is attributed to a hot-path function. The command
// perf/cmd/quaverperf wraps it; `make perf-check` runs the check in CI.
package perf

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// HotPath lists the functions that must not allocate in steady state: the
// RTMP session's read path, chunk decoding and encoding, AMF0 command decoding, fanout publishing and delivery,
// FLV and WebSocket muxing, the transports' write paths and the recorder's queue.
// An allocation is attributed to the first function on its stack that is not in
// the Go runtime, so an append that grows a slice inside Subscriber.flush counts
// against flush.
var HotPath = []string{
	`quaver/internal/rtmp\.\(\*Session\)\.(OnData|feed|handle|media|data|publisherFor)$`,
	`quaver/chunkcodec\.\(\*Decoder\)\.(Feed|step|parseHeader|applyHeader|copyPayload|complete)$`,
	`quaver/chunkcodec\.AppendMessage$`,
	`quaver/amf0\.\(\*Document\)\.(Decode|DecodeOne|decodeTop|value|props|strictArray)$`,
	`quaver/fanout\.\(\*Stream\)\.(Publish|insertLocked)$`,
	`quaver/fanout\.\(\*Subscriber\)\.(flush|appendPacket|skipAhead)$`,
	`quaver/fanout\.\(\*group\)\.flush$`,
	`quaver/fanout\.\(\*loopLocal\)\.(flush|push|Run)$`,
	`quaver/fanout\.retainCurrent$`,
	`quaver/flvmux\.(AppendTag|AppendTagHeader|IsVideoKeyframe|IsVideoSequenceHeader|IsAudioSequenceHeader)$`,
	`quaver/flvmux\.\(\*Reader\)\.Feed$`,
	`quaver/wsflv\.(AppendFrameHeader|ReadFrameHeader)$`,
	`quaver/netpoll\.\(\*conn\)\.Writev$`,
	`quaver/recorder\.\(\*Recording\)\.Writev$`,
}

// Load reads a profile file (gzipped or not).
func Load(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return profile.Parse(f)
}

// Row is one function's share of a profile.
type Row struct {
	Func string
	Flat int64 // attributed to the function itself (first non-runtime frame for allocations)
	Cum  int64 // anywhere on the stack
}

// sampleIndex finds the value index of a sample type such as "alloc_space",
// "alloc_objects" or "cpu"; "" picks the profile's default (the last).
func sampleIndex(p *profile.Profile, name string) (int, error) {
	if name == "" {
		return len(p.SampleType) - 1, nil
	}
	for i, st := range p.SampleType {
		if st.Type == name {
			return i, nil
		}
	}
	var have []string
	for _, st := range p.SampleType {
		have = append(have, st.Type)
	}
	return 0, fmt.Errorf("perf: profile has no %q samples (has %s)", name, strings.Join(have, ", "))
}

// frames returns the sample's function names, leaf first, inlined frames included.
func frames(s *profile.Sample) []string {
	var out []string
	for _, loc := range s.Location {
		for _, ln := range loc.Line {
			if ln.Function != nil {
				out = append(out, ln.Function.Name)
			}
		}
	}
	return out
}

func isRuntime(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") || strings.HasPrefix(fn, "sync.") && strings.Contains(fn, "Pool")
}

// owner is the first non-runtime frame: where an allocation "happens" in our code.
func owner(fs []string) string {
	for _, f := range fs {
		if !isRuntime(f) {
			return f
		}
	}
	if len(fs) > 0 {
		return fs[0]
	}
	return "?"
}

// Top returns the n functions with the largest flat value of sample type typ.
func Top(p *profile.Profile, typ string, n int) ([]Row, int64, error) {
	idx, err := sampleIndex(p, typ)
	if err != nil {
		return nil, 0, err
	}
	flat := map[string]int64{}
	cum := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		fs := frames(s)
		flat[owner(fs)] += v
		seen := map[string]bool{}
		for _, f := range fs {
			if !seen[f] {
				cum[f] += v
				seen[f] = true
			}
		}
	}
	rows := make([]Row, 0, len(cum))
	for f, c := range cum {
		rows = append(rows, Row{Func: f, Flat: flat[f], Cum: c})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Flat != rows[j].Flat {
			return rows[i].Flat > rows[j].Flat
		}
		return rows[i].Cum > rows[j].Cum
	})
	if n > 0 && len(rows) > n {
		rows = rows[:n]
	}
	return rows, total, nil
}

// DiffRow is a function's flat value in two profiles.
type DiffRow struct {
	Func     string
	Old, New int64
}

// Diff compares the flat values of sample type typ between two profiles and
// returns the n largest changes.
func Diff(oldP, newP *profile.Profile, typ string, n int) ([]DiffRow, error) {
	a, _, err := Top(oldP, typ, 0)
	if err != nil {
		return nil, err
	}
	b, _, err := Top(newP, typ, 0)
	if err != nil {
		return nil, err
	}
	m := map[string]*DiffRow{}
	for _, r := range a {
		m[r.Func] = &DiffRow{Func: r.Func, Old: r.Flat}
	}
	for _, r := range b {
		d := m[r.Func]
		if d == nil {
			d = &DiffRow{Func: r.Func}
			m[r.Func] = d
		}
		d.New = r.Flat
	}
	out := make([]DiffRow, 0, len(m))
	for _, d := range m {
		if d.Old != d.New {
			out = append(out, *d)
		}
	}
	abs := func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	}
	sort.Slice(out, func(i, j int) bool { return abs(out[i].New-out[i].Old) > abs(out[j].New-out[j].Old) })
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// Finding is an allocation attributed to a hot-path function.
type Finding struct {
	Func    string
	Objects int64
	Bytes   int64
	Stack   []string
}

// HotAllocs returns the allocations of an allocation profile whose first
// non-runtime frame matches one of the hot patterns (regular expressions). When
// within is not empty, only samples with a frame matching it count: the
// steady-state loop of a benchmark, so set-up allocations (which the sampler can
// record even after profiling was turned off) never do.
func HotAllocs(p *profile.Profile, hot []string, within string) ([]Finding, error) {
	objIdx, err := sampleIndex(p, "alloc_objects")
	if err != nil {
		return nil, err
	}
	spaceIdx, err := sampleIndex(p, "alloc_space")
	if err != nil {
		return nil, err
	}
	res := make([]*regexp.Regexp, len(hot))
	for i, h := range hot {
		if res[i], err = regexp.Compile(h); err != nil {
			return nil, err
		}
	}
	var in *regexp.Regexp
	if within != "" {
		if in, err = regexp.Compile(within); err != nil {
			return nil, err
		}
	}
	byFunc := map[string]*Finding{}
	for _, s := range p.Sample {
		if s.Value[objIdx] == 0 {
			continue
		}
		fs := frames(s)
		if in != nil && !slices.ContainsFunc(fs, in.MatchString) {
			continue
		}
		o := owner(fs)
		for _, re := range res {
			if re.MatchString(o) {
				f := byFunc[o]
				if f == nil {
					f = &Finding{Func: o, Stack: fs}
					byFunc[o] = f
				}
				f.Objects += s.Value[objIdx]
				f.Bytes += s.Value[spaceIdx]
				break
			}
		}
	}
	out := make([]Finding, 0, len(byFunc))
	for _, f := range byFunc {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Objects > out[j].Objects })
	return out, nil
}

// PrintTop writes rows as a table.
func PrintTop(w io.Writer, rows []Row, total int64, unit string) {
	fmt.Fprintf(w, "%14s %6s %14s  %s\n", "flat "+unit, "flat%", "cum "+unit, "function")
	for _, r := range rows {
		pct := 0.0
		if total > 0 {
			pct = 100 * float64(r.Flat) / float64(total)
		}
		fmt.Fprintf(w, "%14d %5.1f%% %14d  %s\n", r.Flat, pct, r.Cum, r.Func)
	}
}
