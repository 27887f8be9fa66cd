package hostile

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// report is one attack's figures: one line in the test log, one markdown row
// in the summary (-v) and in $HOSTILE_REPORT.
type report struct {
	attack  string
	result  string // PASS or FAIL, set in cleanup
	keepMin float64
	maxGap  time.Duration
	before  sample
	peak    sample
	after   sample
	cpu     time.Duration // child CPU during the attack
	logs    int           // child stderr lines during the attack and its settling
	notes   []string      // attack-specific figures
	failure string        // first failure message
}

// note adds an attack-specific figure.
func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

var (
	reportsMu sync.Mutex
	reports   []*report
)

func mb(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func mbf(b float64) string {
	if b < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", b/(1<<20))
}

func num(f float64) string {
	if f < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", f)
}

// line is the one-line report for the test log.
func (r *report) line() string {
	return fmt.Sprintf("%s %s: keep-up min %.2f, max gap %v, RSS %s/%s/%s MB (before/peak/after, VmHWM %s), heap %s/%s/%s MB, fds %d/%d/%d, goroutines %s/%s/%s, child CPU %.2fs, log lines %d; %s",
		r.attack, r.result, r.keepMin, r.maxGap.Round(time.Millisecond),
		mb(r.before.RSS), mb(r.peak.RSS), mb(r.after.RSS), mb(r.after.HWM),
		mbf(r.before.Heap), mbf(r.peak.Heap), mbf(r.after.Heap),
		r.before.FDs, r.peak.FDs, r.after.FDs,
		num(r.before.Goroutines), num(r.peak.Goroutines), num(r.after.Goroutines),
		r.cpu.Seconds(), r.logs, strings.Join(r.notes, "; "))
}

// maxFailureInRow bounds the failure message quoted in a table row.
const maxFailureInRow = 240

const tableHeader = "| run | attack | result | keep-up min | max gap | RSS MB before/peak/after | heap MB before/peak/after | fds before/peak/after | goroutines before/peak/after | child CPU-s | log lines | notes |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|\n"

// row is the markdown table row.
func (r *report) row() string {
	notes := strings.Join(r.notes, "; ")
	if f := r.failure; f != "" {
		if len(f) > maxFailureInRow {
			f = f[:maxFailureInRow] + "..."
		}
		notes += "; FAIL: " + f
	}
	notes = strings.ReplaceAll(notes, "|", "/")
	notes = strings.ReplaceAll(notes, "\n", " ")
	return fmt.Sprintf("| %s | %s | %s | %.2f | %v | %s/%s/%s | %s/%s/%s | %d/%d/%d | %s/%s/%s | %.2f | %d | %s |\n",
		os.Getenv("HOSTILE_LABEL"), r.attack, r.result, r.keepMin, r.maxGap.Round(time.Millisecond),
		mb(r.before.RSS), mb(r.peak.RSS), mb(r.after.RSS),
		mbf(r.before.Heap), mbf(r.peak.Heap), mbf(r.after.Heap),
		r.before.FDs, r.peak.FDs, r.after.FDs,
		num(r.before.Goroutines), num(r.peak.Goroutines), num(r.after.Goroutines),
		r.cpu.Seconds(), r.logs, notes)
}

// finish sets the result, logs the line and records the row.
func (r *report) finish(t *testing.T) {
	r.result = "PASS"
	if t.Failed() {
		r.result = "FAIL"
	}
	t.Log(r.line())
	reportsMu.Lock()
	reports = append(reports, r)
	reportsMu.Unlock()
	if path := os.Getenv("HOSTILE_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Logf("HOSTILE_REPORT: %v", err)
			return
		}
		if st, err := f.Stat(); err == nil && st.Size() == 0 {
			_, _ = f.WriteString(tableHeader)
		}
		_, _ = f.WriteString(r.row())
		_ = f.Close()
	}
}

// printSummary prints the table of every attack that ran (with -v).
func printSummary() {
	reportsMu.Lock()
	defer reportsMu.Unlock()
	if len(reports) == 0 || !testing.Verbose() {
		return
	}
	fmt.Print("\nhostile summary\n\n" + tableHeader)
	sorted := slices.Clone(reports)
	slices.SortStableFunc(sorted, func(a, b *report) int { return attackNumber(a.attack) - attackNumber(b.attack) })
	for _, r := range sorted {
		fmt.Print(r.row())
	}
	fmt.Println()
}

// attackNumber is the leading number of an attack's name ("3 name churn"),
// 0 for the control run.
func attackNumber(name string) int {
	n, _ := strconv.Atoi(strings.SplitN(name, " ", 2)[0])
	return n
}
