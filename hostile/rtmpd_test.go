package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Child-process bounds.
const (
	startAttempts = 4                // fresh ports each time: another process may take a probed port
	startBound    = 10 * time.Second // per attempt, until RTMP and /healthz answer
	stopBound     = 8 * time.Second  // SIGTERM, then kill (-shutdown-timeout is 5 s)
	logTailLines  = 200              // stderr lines kept for a failure report
)

// rtmpd is a running child rtmpd.
type rtmpd struct {
	cmd       *exec.Cmd
	pid       int
	rtmpAddr  string
	httpAddr  string
	adminAddr string // the admin listener: /metrics
	pprofAddr string
	rtmpsAddr string
	recordDir string
	log       *lineLog
	done      chan struct{}
	waitErr   error
}

// rtmpdOptions configures startRTMPD.
type rtmpdOptions struct {
	// args are extra flags.
	args []string
	// recordDir is the -record-dir; "" means a fresh temporary directory.
	recordDir string
	// tlsCert and tlsKey, when set, enable -rtmps on a free port.
	tlsCert, tlsKey string
}

// lineLog counts the child's stderr lines and keeps the last few.
type lineLog struct {
	mu      sync.Mutex
	lines   int
	partial []byte
	tail    []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.partial, p...)
	for {
		i := strings.IndexByte(string(b), '\n')
		if i < 0 {
			break
		}
		l.lines++
		if len(l.tail) == logTailLines {
			copy(l.tail, l.tail[1:])
			l.tail = l.tail[:logTailLines-1]
		}
		l.tail = append(l.tail, string(b[:i]))
		b = b[i+1:]
	}
	if len(b) > 4096 { // a line without end: keep the memory bounded
		b = b[:0]
	}
	l.partial = append(l.partial[:0], b...)
	return len(p), nil
}

// Lines returns the number of complete lines written so far.
func (l *lineLog) Lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// Tail returns up to n last lines.
func (l *lineLog) Tail(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > len(l.tail) {
		n = len(l.tail)
	}
	return append([]string(nil), l.tail[len(l.tail)-n:]...)
}

// freeAddrs returns n 127.0.0.1 addresses with distinct ports the OS just
// handed out (every listener stays open until all are known, so no port comes
// twice).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// startRTMPD starts rtmpd on 127.0.0.1 with OS-chosen ports and stops it in
// cleanup.
func startRTMPD(t *testing.T, o rtmpdOptions) *rtmpd {
	t.Helper()
	bin := buildRTMPD(t)
	if o.recordDir == "" {
		o.recordDir = t.TempDir()
	}
	var last error
	for attempt := 0; attempt < startAttempts; attempt++ {
		addrs := freeAddrs(t, 5)
		d := &rtmpd{
			rtmpAddr:  addrs[0],
			httpAddr:  addrs[1],
			pprofAddr: addrs[2],
			adminAddr: addrs[4],
			recordDir: o.recordDir,
			log:       &lineLog{},
			done:      make(chan struct{}),
		}
		args := []string{
			"-rtmp", d.rtmpAddr, "-http", d.httpAddr, "-pprof", d.pprofAddr, "-admin", d.adminAddr,
			"-record-dir", d.recordDir, "-web-dir", t.TempDir(), "-log-level", "warn",
		}
		if o.tlsCert != "" {
			d.rtmpsAddr = addrs[3]
			args = append(args, "-rtmps", d.rtmpsAddr, "-tls-cert", o.tlsCert, "-tls-key", o.tlsKey)
		}
		args = append(args, o.args...)
		d.cmd = exec.Command(bin, args...)
		d.cmd.Stderr = d.log
		d.cmd.Stdout = d.log
		if err := d.cmd.Start(); err != nil {
			t.Fatalf("start rtmpd: %v", err)
		}
		d.pid = d.cmd.Process.Pid
		go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
		if err := d.waitReady(); err != nil {
			last = err
			d.stop()
			continue
		}
		t.Cleanup(func() {
			if !d.stop() {
				t.Errorf("rtmpd did not exit within %v of SIGTERM; killed", stopBound)
			}
			if t.Failed() {
				for _, l := range d.log.Tail(20) {
					t.Log("rtmpd: " + l)
				}
			}
		})
		return d
	}
	t.Fatalf("rtmpd did not start in %d attempts: %v", startAttempts, last)
	return nil
}

// waitReady waits until the RTMP port accepts and /healthz answers.
func (d *rtmpd) waitReady() error {
	deadline := time.Now().Add(startBound)
	hc := &http.Client{Timeout: 500 * time.Millisecond}
	for time.Now().Before(deadline) {
		select {
		case <-d.done:
			return fmt.Errorf("rtmpd exited: %v: %s", d.waitErr, strings.Join(d.log.Tail(5), " | "))
		default:
		}
		if c, err := net.DialTimeout("tcp", d.rtmpAddr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			if resp, err := hc.Get("http://" + d.httpAddr + "/healthz"); err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == 200 {
					return nil
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("rtmpd not ready within the bound")
}

// stop sends SIGTERM and kills after stopBound; it reports whether the child
// exited on its own. Idempotent.
func (d *rtmpd) stop() bool {
	select {
	case <-d.done:
		return true
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return true
	case <-time.After(stopBound):
		_ = d.cmd.Process.Kill()
		<-d.done
		return false
	}
}

// rtmpURL returns rtmp://addr/live/name.
func (d *rtmpd) rtmpURL(name string) string { return "rtmp://" + d.rtmpAddr + "/live/" + name }

// healthz reports whether GET /healthz from 127.0.0.1 answers 200 within bound.
func (d *rtmpd) healthz(ctx context.Context, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+d.httpAddr+"/healthz", nil)
	resp, err := honestHTTP.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("/healthz: %s", resp.Status)
	}
	return nil
}

// forceGC asks the child to collect garbage (pprof's heap profile with gc=1),
// so that heap figures count live objects only.
func (d *rtmpd) forceGC() {
	hc := &http.Client{Timeout: 2 * time.Second}
	if resp, err := hc.Get("http://" + d.pprofAddr + "/debug/pprof/heap?gc=1"); err == nil {
		if f := os.Getenv("HOSTILE_HEAPDUMP"); f != "" {
			if out, err := os.Create(f); err == nil {
				_, _ = io.Copy(out, resp.Body)
				_ = out.Close()
			}
		}
		_ = resp.Body.Close()
	}
}

// honestHTTP is the HTTP client of honest traffic: from 127.0.0.1, no
// connection reuse (the server closes after each response anyway).
var honestHTTP = &http.Client{Transport: &http.Transport{
	DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Timeout: 3 * time.Second}).DialContext,
	DisableKeepAlives: true,
}}
