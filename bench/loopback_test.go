package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
)

// The loopback benchmarks run rtmpd as a child process pinned to GOMAXPROCS=1 and
// drive it from this process: one publisher and N RTMP readers on 127.0.0.1.
// The server is a separate process so that /proc gives its CPU time and memory
// exactly; in one process the standard-library transport's goroutines could not
// be told apart from the readers'.
//
// One benchmark op is one published video frame (10 KiB, the size of a
// 2.5 Mbps / 30 fps frame) plus one audio frame, delivered to every reader. The
// publisher runs ahead of the slowest reader by at most a window of frames, so
// nobody is skipped and the numbers measure steady delivery.
//
// Reported: delivered MB/s, server CPU-seconds per delivered GB, server RSS per
// reader (KB), and server writes per delivered frame.

var (
	buildOnce sync.Once
	rtmpdPath string
	buildErr  error
)

func buildRTMPD(tb testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "quaver-bench")
		if err != nil {
			buildErr = err
			return
		}
		rtmpdPath = filepath.Join(dir, "rtmpd")
		out, err := exec.Command("go", "build", "-o", rtmpdPath, "github.com/quaverlive/quaver/cmd/rtmpd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build rtmpd: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		tb.Skip(buildErr)
	}
	return rtmpdPath
}

// procStat reads a process's CPU time (user+system) and resident set size.
func procStat(pid int) (cpu time.Duration, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, pages * int64(os.Getpagesize()), nil
}

type serverProc struct {
	cmd   *exec.Cmd
	addr  string
	http  string
	admin string // the admin listener: /metrics
}

func startServer(tb testing.TB, args ...string) *serverProc {
	bin := buildRTMPD(tb)
	// Both listeners stay open until both ports are known, so the OS hands out
	// two different ports (closing the first could give it again).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	al, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr, httpAddr, adminAddr := ln.Addr().String(), hl.Addr().String(), al.Addr().String()
	ln.Close()
	hl.Close()
	al.Close()
	cmd := exec.Command(bin, append([]string{"-rtmp", addr, "-http", httpAddr, "-admin", adminAddr, "-loops", "1", "-log-level", "error", "-trusted-nets", "127.0.0.0/8"}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("rtmpd did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &serverProc{cmd: cmd, addr: addr, http: httpAddr, admin: adminAddr}
}

// reader is a player that counts what it receives: RTMP through the client
// library, HTTP-FLV and WebSocket-FLV by parsing the FLV byte stream.
type reader struct {
	conn   *client.Conn // RTMP
	raw    net.Conn     // HTTP-FLV and WebSocket-FLV
	ws     bool
	frames atomic.Int64
	bytes  atomic.Int64
}

func (r *reader) close() {
	if r.conn != nil {
		r.conn.Close()
	}
	if r.raw != nil {
		r.raw.Close()
	}
}

func (r *reader) run(wg *sync.WaitGroup) {
	defer wg.Done()
	if r.conn != nil {
		for {
			m, err := r.conn.ReadMessage()
			if err != nil {
				return
			}
			r.bytes.Add(int64(len(m.Payload)))
			if m.TypeID == chunkcodec.TypeVideo {
				r.frames.Add(1)
			}
		}
	}
	var fr flvmux.Reader
	buf := make([]byte, 64<<10)
	var pending []byte // WebSocket: bytes of the frame being unwrapped
	wsLeft := 0
	feed := func(p []byte) bool {
		for len(p) > 0 {
			n, tag, err := fr.Feed(p)
			if err != nil {
				return false
			}
			p = p[n:]
			if tag != nil {
				r.bytes.Add(int64(len(tag.Data)))
				if tag.Type == flvmux.TagVideo {
					r.frames.Add(1)
				}
			}
		}
		return true
	}
	for {
		n, err := r.raw.Read(buf)
		if n > 0 {
			p := buf[:n]
			if !r.ws {
				if !feed(p) {
					return
				}
			} else {
				// Unwrap unmasked server frames: header, then payload.
				pending = append(pending, p...)
				for len(pending) > 0 {
					if wsLeft == 0 {
						h, hl, ok := wsHeader(pending)
						if !ok {
							break
						}
						pending, wsLeft = pending[hl:], h
						if wsLeft == 0 {
							continue
						}
					}
					k := min(wsLeft, len(pending))
					if !feed(pending[:k]) {
						return
					}
					pending, wsLeft = pending[k:], wsLeft-k
				}
				pending = append(buf[:0:0], pending...)
			}
		}
		if err != nil {
			return
		}
	}
}

// wsHeader parses an unmasked server frame header: payload length and header size.
func wsHeader(b []byte) (int, int, bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	switch l := int(b[1] & 0x7f); l {
	case 126:
		if len(b) < 4 {
			return 0, 0, false
		}
		return int(b[2])<<8 | int(b[3]), 4, true
	case 127:
		if len(b) < 10 {
			return 0, 0, false
		}
		n := 0
		for _, c := range b[2:10] {
			n = n<<8 | int(c)
		}
		return n, 10, true
	default:
		return l, 2, true
	}
}

// scrape reads the server's Prometheus counters.
func scrape(tb testing.TB, adminAddr string) map[string]float64 {
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			m[f[0]] = v
		}
	}
	return m
}

// dialFLV opens an HTTP-FLV or WebSocket-FLV play and consumes the response head.
func dialFLV(addr, path string, ws bool) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if ws {
		req += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	// Read the response head byte by byte so no body byte is consumed here.
	var head []byte
	one := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if _, err := c.Read(one); err != nil {
			c.Close()
			return nil, err
		}
		head = append(head, one[0])
		if len(head) > 4096 {
			c.Close()
			return nil, fmt.Errorf("response head too long")
		}
	}
	if !strings.Contains(string(head), " 200 ") && !strings.Contains(string(head), " 101 ") {
		c.Close()
		return nil, fmt.Errorf("play %s: %s", path, strings.SplitN(string(head), "\r\n", 2)[0])
	}
	return c, nil
}

func BenchmarkLoopback(b *testing.B) {
	readers := []int{10, 100}
	if testing.Short() {
		readers = []int{10}
	}
	if os.Getenv("QUAVER_BENCH_LARGE") != "" {
		readers = append(readers, 1000)
	}
	for _, transport := range []string{"gnet", "std"} {
		for _, n := range readers {
			for _, window := range []string{"0s", "20ms"} {
				b.Run(fmt.Sprintf("transport=%s/play=rtmp/readers=%d/batch=%s", transport, n, window), func(b *testing.B) {
					loopback(b, transport, "rtmp", n, window)
				})
			}
		}
	}
	for _, play := range []string{"httpflv", "wsflv"} {
		for _, n := range readers {
			b.Run(fmt.Sprintf("transport=gnet/play=%s/readers=%d/batch=0s", play, n), func(b *testing.B) {
				loopback(b, "gnet", play, n, "0s")
			})
		}
	}
}

func loopback(b *testing.B, transport, play string, nReaders int, window string) {
	srv := startServer(b, "-transport", transport, "-batch-window", window)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := "rtmp://" + srv.addr + "/live/bench"

	pub, err := client.Dial(ctx, url, client.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	video := make([]byte, 10<<10)
	audio := make([]byte, 370)
	audio[0], audio[1] = 0xaf, 1
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(pub.WriteMessage(chunkcodec.TypeVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 0}))
	must(pub.WriteMessage(chunkcodec.TypeAudio, 0, []byte{0xaf, 0, 0x12, 0x10}))
	ts := uint32(0)
	sendFrame := func(i int) error {
		if i%30 == 0 {
			video[0] = 0x17
		} else {
			video[0] = 0x27
		}
		video[1] = 1
		if err := pub.WriteMessage(chunkcodec.TypeVideo, ts, video); err != nil {
			return err
		}
		if err := pub.WriteMessage(chunkcodec.TypeAudio, ts, audio); err != nil {
			return err
		}
		ts += 33
		return nil
	}
	must(sendFrame(0))

	_, rssBefore, _ := procStat(srv.cmd.Process.Pid)
	mBefore := scrape(b, srv.admin)
	rs := make([]*reader, nReaders)
	var wg sync.WaitGroup
	for i := range rs {
		switch play {
		case "rtmp":
			c, err := client.Dial(ctx, url, client.Config{})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Play(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			rs[i] = &reader{conn: c}
		default:
			ws := play == "wsflv"
			c, err := dialFLV(srv.http, "/live/bench.flv", ws)
			if err != nil {
				b.Fatal(err)
			}
			rs[i] = &reader{raw: c, ws: ws}
		}
		wg.Add(1)
		go rs[i].run(&wg)
	}
	defer func() {
		for _, r := range rs {
			r.close()
		}
		wg.Wait()
	}()

	minFrames := func() int64 {
		m := int64(1 << 62)
		for _, r := range rs {
			m = min(m, r.frames.Load())
		}
		return m
	}
	// Wait until every reader has the first GOP.
	for deadline := time.Now().Add(10 * time.Second); minFrames() < 1; {
		if time.Now().After(deadline) {
			b.Fatal("readers did not receive the first frame")
		}
		time.Sleep(time.Millisecond)
	}
	_, rssJoined, _ := procStat(srv.cmd.Process.Pid)
	m0 := scrape(b, srv.admin)
	cpu0, _, _ := procStat(srv.cmd.Process.Pid)
	var bytes0 int64
	for _, r := range rs {
		bytes0 += r.bytes.Load()
	}
	start := time.Now()
	b.ResetTimer()
	const ahead = 60
	base := minFrames()
	for i := 1; i <= b.N; i++ {
		for minFrames()-base < int64(i-ahead) {
			runtime.Gosched()
			if ctx.Err() != nil {
				b.Fatal("readers stalled")
			}
		}
		must(sendFrame(i))
	}
	// Drain: every reader receives every frame.
	for minFrames()-base < int64(b.N) {
		if ctx.Err() != nil {
			b.Fatalf("readers stalled at %d/%d", minFrames()-base, b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	cpu1, rss1, _ := procStat(srv.cmd.Process.Pid)
	m1 := scrape(b, srv.admin)
	if d := m1["quaver_deliveries_total"] - m0["quaver_deliveries_total"]; d > 0 {
		// Includes the /metrics requests themselves: an upper bound.
		b.ReportMetric((m1["quaver_go_heap_allocs_objects_total"]-m0["quaver_go_heap_allocs_objects_total"])/d, "allocs/delivery")
	}
	b.ReportMetric((m0["quaver_go_heap_objects_bytes"]-mBefore["quaver_go_heap_objects_bytes"])/float64(nReaders), "heap-B/reader")
	var bytes1 int64
	for _, r := range rs {
		bytes1 += r.bytes.Load()
	}
	delivered := float64(bytes1 - bytes0)
	b.ReportMetric(delivered/1e6/elapsed.Seconds(), "MB/s")
	if delivered > 0 {
		b.ReportMetric((cpu1-cpu0).Seconds()/(delivered/1e9), "cpu-s/GB")
	}
	b.ReportMetric(float64(rssJoined-rssBefore)/1024/float64(nReaders), "KB-rss/reader")
	_ = rss1
	b.SetBytes(int64(len(video)+len(audio)) * int64(nReaders))
}
