package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/quaverlive/quaver/chunkcodec"
)

// floorReadBuffer is the read buffer of each floor reader.
const floorReadBuffer = 64 << 10

// maxCPUs bounds the CPU number accepted by -floor-writer-cpu (the size of
// the affinity mask passed to sched_setaffinity).
const maxCPUs = 1024

// runFloor measures the kernel's floor: N loopback TCP connections, a reader
// goroutine on one end of each and, on the other ends, one writer goroutine
// locked to its own OS thread that sends every reader (cfg.Bitrate +
// cfg.AudioBitrate)/8 bytes per second, in one write per frame (1/cfg.FPS) or
// one write per cfg.FloorBatch. The writer thread's CPU time, read from
// /proc/self/task/TID/stat, is the cost of delivery with no server logic.
// Each reader reads as soon as data arrives and, with cfg.FloorAckWindow,
// answers with RTMP Acknowledgements as an RTMP player does; the writer never
// reads them (16 bytes per window: a server's read of them is its own cost).
// The readers time each write at their sockets from the start of its pass
// (floorPasses): the latency of the same delivery with no server.
func runFloor(parent context.Context, cfg Config) (*Report, error) {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "%6.1fs  "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	// The writer gets a P of its own: with GOMAXPROCS 1 (a tool pinned to
	// one core) it would take turns with the readers.
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	n := cfg.totalPlayers()
	rate := float64(cfg.Bitrate+cfg.AudioBitrate) / 8
	period := cfg.FloorBatch
	if period <= 0 {
		period = time.Duration(float64(time.Second) / cfg.FPS)
	}
	writeSize := max(int(rate*period.Seconds()), 1)

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()

	// Connect n pairs: the dialled ends read, the accepted ends are written.
	writeEnds := make([]net.Conn, 0, n)
	readEnds := make([]net.Conn, 0, n)
	closeAll := func() {
		for _, c := range writeEnds {
			c.Close()
		}
		for _, c := range readEnds {
			c.Close()
		}
	}
	defer closeAll()
	accepted := make(chan net.Conn, n)
	acceptErr := make(chan error, 1)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			accepted <- c
		}
	}()
	dial := rxDial(loopbackDialer(cfg.Timeout).DialContext)
	for range n {
		c, err := dial(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return nil, fmt.Errorf("floor: dial reader %d: %w", len(readEnds), err)
		}
		readEnds = append(readEnds, c)
		select {
		case c := <-accepted:
			writeEnds = append(writeEnds, c)
		case err := <-acceptErr:
			return nil, fmt.Errorf("floor: accept: %w", err)
		case <-time.After(cfg.Timeout):
			return nil, errors.New("floor: accept timed out")
		}
	}
	logf("floor: %d connections, %d-byte writes every %v, readers acknowledge every %d bytes (0: never)", n, writeSize, period, cfg.FloorAckWindow)

	var wg sync.WaitGroup
	var acks atomic.Uint64
	var measuring atomic.Bool
	passes := new(floorPasses)
	latency := new(histogram)
	received := make([]atomic.Uint64, n)
	for i, c := range readEnds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, floorReadBuffer)
			var ack floorAcker
			rx := rxOf(c)
			var total uint64
			for {
				k, err := c.Read(buf)
				received[i].Add(uint64(k))
				if err != nil {
					return
				}
				before := total
				total += uint64(k)
				if measuring.Load() {
					passes.recordLatency(latency, i, before, total, uint64(writeSize), rx.stamp())
				}
				if out := ack.read(k, cfg.FloorAckWindow); out != nil {
					if _, err := c.Write(out); err != nil {
						return
					}
					acks.Add(1)
				}
			}
		}()
	}

	var writes atomic.Uint64
	tidCh := make(chan int, 1)
	writerErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if cfg.FloorWriterCPU >= 0 {
			if err := pinThread(cfg.FloorWriterCPU); err != nil {
				writerErr <- fmt.Errorf("floor: pin writer to CPU %d: %w", cfg.FloorWriterCPU, err)
				tidCh <- 0
				return
			}
		}
		tidCh <- syscall.Gettid()
		buf := filler(writeSize, 1)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		next := time.Now()
		for ctx.Err() == nil {
			passes.begin(time.Now().UnixNano())
			for _, c := range writeEnds {
				if _, err := c.Write(buf); err != nil {
					if ctx.Err() == nil {
						writerErr <- err
					}
					return
				}
				writes.Add(1)
			}
			next = next.Add(period)
			wait := time.Until(next)
			if wait < -time.Second { // far behind: do not try to catch up in a burst
				next = time.Now()
				continue
			}
			if wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
				}
			}
		}
	}()
	tid := <-tidCh
	if tid == 0 {
		cancel()
		return nil, <-writerErr
	}

	sum := func() uint64 {
		var s uint64
		for i := range received {
			s += received[i].Load()
		}
		return s
	}
	sleepCtx(ctx, cfg.Warmup)
	cpu0, err0 := threadCPU(tid)
	tool0, bytes0, writes0, acks0 := selfCPU(), sum(), writes.Load(), acks.Load()
	mach0, merr0 := readMachineCPU()
	start := time.Now()
	measuring.Store(true)
	logf("measuring for %v", cfg.Duration)
	sleepCtx(ctx, cfg.Duration)
	measuring.Store(false)
	cpu1, err1 := threadCPU(tid)
	tool1, bytes1, writes1, acks1 := selfCPU(), sum(), writes.Load(), acks.Load()
	mach1, merr1 := readMachineCPU()
	window := time.Since(start)
	interrupted := parent.Err() != nil
	cancel()
	closeAll()
	wg.Wait()
	if err := errors.Join(err0, err1); err != nil {
		return nil, fmt.Errorf("floor: writer thread CPU: %w", err)
	}
	select {
	case err := <-writerErr:
		return nil, fmt.Errorf("floor: writer: %w", err)
	default:
	}

	delivered := bytes1 - bytes0
	cpu := cpu1 - cpu0
	rep := &Report{Mode: "floor", Config: reportConfig(cfg), WindowSeconds: window.Seconds(), Interrupted: interrupted}
	rep.DeliveredBytes = delivered
	f := &FloorReport{
		Readers: n, WriteBytes: writeSize, PeriodSeconds: period.Seconds(),
		WriterCPUSeconds: cpu.Seconds(), WriterCPU: cfg.FloorWriterCPU, AckWindow: cfg.FloorAckWindow,
	}
	if window > 0 {
		rep.DeliveredMBps = float64(delivered) / 1e6 / window.Seconds()
		f.WritesPerSecond = float64(writes1-writes0) / window.Seconds()
		f.AcksPerSecond = float64(acks1-acks0) / window.Seconds()
		f.WriterCoreShare = cpu.Seconds() / window.Seconds()
		f.KeepUp = float64(delivered) / (rate * float64(n) * window.Seconds())
	}
	if delivered > 0 {
		f.WriterCPUPerGB = cpu.Seconds() / (float64(delivered) / 1e9)
	}
	rep.Floor = f
	rep.SocketLatency = latencyReport(latency.snapshot())
	rep.Tool = toolReport(tool1-tool0, window)
	// The tool here is writer and readers together: only warn when the
	// readers alone (tool minus writer) used most of a core.
	rep.Tool.Warning = ""
	if window > 0 && (tool1-tool0-cpu).Seconds()/window.Seconds() > toolBusyShare {
		readers := (tool1 - tool0 - cpu).Seconds() / window.Seconds()
		rep.Tool.Warning = fmt.Sprintf("WARNING: the floor readers used %.0f%% of a core: they may have been the bottleneck", 100*readers)
		rep.Warnings = append(rep.Warnings, rep.Tool.Warning)
	}
	if merr0 == nil && merr1 == nil {
		rep.Machine = machineReport(mach0, mach1, tool1-tool0, window)
		if w := rep.Machine.warning(); w != "" {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	return rep, nil
}

// floorPassRing is how many passes back the floor's readers can time.
const floorPassRing = 4096

// floorPasses records when the floor's writer began each pass over the
// readers, so that the readers time each write at their sockets (from the
// pass's start to the receive stamp of the read that completed it): the
// kernel's own latency for the same delivery, to set beside a server's.
// begin is writer-only; the rest is safe from any goroutine and does not
// allocate.
type floorPasses struct {
	starts [floorPassRing]atomic.Int64 // Unix ns, pass k at k % floorPassRing
	begun  atomic.Uint64
}

// begin records the start of the next pass.
func (f *floorPasses) begin(now int64) {
	k := f.begun.Load()
	f.starts[k%floorPassRing].Store(now)
	f.begun.Store(k + 1)
}

// start returns the start of pass k, if it has begun and is still in the ring.
func (f *floorPasses) start(k uint64) (int64, bool) {
	if k >= f.begun.Load() {
		return 0, false
	}
	t := f.starts[k%floorPassRing].Load()
	if f.begun.Load()-k > floorPassRing { // overwritten meanwhile
		return 0, false
	}
	return t, true
}

// recordLatency times, into h (shard key), every write of writeSize bytes a
// read completed: the read took the reader's stream from before to total
// bytes, and rx is its receive stamp (0: none, nothing is timed). Pass k's
// write ends at byte (k+1)*writeSize.
func (f *floorPasses) recordLatency(h *histogram, key int, before, total, writeSize uint64, rx int64) {
	if rx == 0 {
		return
	}
	for k := before / writeSize; k < total/writeSize; k++ {
		if t, ok := f.start(k); ok {
			h.record(key, rx-t)
		}
	}
}

// floorAcker is a floor reader's RTMP acknowledgements: after every window
// bytes read, the Acknowledgement message an RTMP player sends (its sequence
// number the bytes read so far, modulo 2^32). It makes the floor's TCP
// exchange the one of RTMP players: a reader that sometimes writes is treated
// as interactive by the kernel, which then acknowledges arriving data at once
// more often, on loopback in the writer's softirq. Reader-owned.
type floorAcker struct {
	read64, acked uint64
	msg           []byte
}

// read counts n bytes read and returns the message to send now, or nil. A
// window of 0 never acknowledges.
func (a *floorAcker) read(n int, window int64) []byte {
	a.read64 += uint64(n)
	if window <= 0 || a.read64-a.acked < uint64(window) {
		return nil
	}
	a.acked = a.read64
	a.msg = chunkcodec.AppendAck(a.msg[:0], uint32(a.read64))
	return a.msg
}

// pinThread sets the calling OS thread's CPU affinity to one CPU.
func pinThread(cpu int) error {
	if cpu < 0 || cpu >= maxCPUs {
		return fmt.Errorf("CPU %d out of range 0..%d", cpu, maxCPUs-1)
	}
	var mask [maxCPUs / 64]uint64
	mask[cpu/64] = 1 << (cpu % 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if e != 0 {
		return e
	}
	return nil
}
