package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sampling.
const (
	peakInterval   = 100 * time.Millisecond // poll period during an attack
	settleInterval = 200 * time.Millisecond // poll period while settling
	gcInterval     = time.Second            // forced GCs while settling, at most this often
	scrapeTimeout  = 500 * time.Millisecond
	userHZ         = 100 // clock ticks per second in /proc/<pid>/stat (USER_HZ)
)

// sample is one measurement of the child. Metrics fields are -1 when /metrics
// did not answer (a flood may keep it from answering: that is recorded too).
type sample struct {
	RSS, HWM   int64         // bytes (VmRSS, VmHWM)
	CPU        time.Duration // utime + stime
	FDs        int
	Heap       float64 // quaver_go_heap_objects_bytes
	Goroutines float64 // quaver_go_goroutines
	Conns      float64 // quaver_connections
}

// procSample reads the child's /proc figures.
func (d *rtmpd) procSample() (s sample) {
	s.Heap, s.Goroutines, s.Conns = -1, -1, -1
	if f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.pid)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			for _, k := range []struct {
				prefix string
				dst    *int64
			}{{"VmRSS:", &s.RSS}, {"VmHWM:", &s.HWM}} {
				if strings.HasPrefix(line, k.prefix) {
					f := strings.Fields(line)
					if len(f) >= 2 {
						kb, _ := strconv.ParseInt(f[1], 10, 64)
						*k.dst = kb << 10
					}
				}
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.pid)); err == nil {
		st := string(b)
		if i := strings.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) {
			f := strings.Fields(st[i+2:])
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				stm, _ := strconv.ParseInt(f[12], 10, 64)
				s.CPU = time.Duration(ut+stm) * time.Second / userHZ
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.pid)); err == nil {
		s.FDs = len(ents)
	}
	return s
}

// scrapeClient reads /metrics from 127.0.0.1.
var scrapeClient = &http.Client{Timeout: scrapeTimeout, Transport: honestHTTP.Transport}

// metrics reads the child's Prometheus text exposition.
func (d *rtmpd) metrics() (map[string]float64, error) {
	resp, err := scrapeClient.Get("http://" + d.adminAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			m[f[0]] = v
		}
	}
	return m, nil
}

// sample reads /proc and /metrics.
func (d *rtmpd) sample() sample {
	s := d.procSample()
	if m, err := d.metrics(); err == nil {
		s.Heap = m["quaver_go_heap_objects_bytes"]
		s.Goroutines = m["quaver_go_goroutines"]
		s.Conns = m["quaver_connections"]
	}
	return s
}

// maxSample keeps the larger of each field.
func maxSample(a, b sample) sample {
	return sample{
		RSS: max(a.RSS, b.RSS), HWM: max(a.HWM, b.HWM), CPU: max(a.CPU, b.CPU), FDs: max(a.FDs, b.FDs),
		Heap: max(a.Heap, b.Heap), Goroutines: max(a.Goroutines, b.Goroutines), Conns: max(a.Conns, b.Conns),
	}
}

// peakSampler polls the child every peakInterval and keeps the maxima.
type peakSampler struct {
	d    *rtmpd
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	peak sample
	// scrapeFails counts polls whose /metrics did not answer.
	scrapeFails int
}

func startPeak(d *rtmpd, base sample) *peakSampler {
	p := &peakSampler{d: d, stop: make(chan struct{}), done: make(chan struct{}), peak: base}
	go func() {
		defer close(p.done)
		t := time.NewTicker(peakInterval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			s := d.sample()
			p.mu.Lock()
			p.peak = maxSample(p.peak, s)
			if s.Heap < 0 {
				p.scrapeFails++
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// Stop ends the polling, takes one last sample, and returns the peak.
func (p *peakSampler) Stop() sample {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak = maxSample(p.peak, p.d.sample())
	return p.peak
}

// settle polls (with forced GCs) until ok holds for a sample or bound passes,
// and returns the last sample and whether ok held.
func (d *rtmpd) settle(bound time.Duration, ok func(sample) bool) (sample, bool) {
	deadline := time.Now().Add(bound)
	var lastGC time.Time
	for {
		if time.Since(lastGC) >= gcInterval {
			d.forceGC()
			lastGC = time.Now()
		}
		s := d.sample()
		if ok(s) {
			return s, true
		}
		if time.Now().After(deadline) {
			return s, false
		}
		time.Sleep(settleInterval)
	}
}
