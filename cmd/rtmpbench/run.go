package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
)

// runner is the state of one load run shared by the publisher and players.
type runner struct {
	cfg  Config
	t0   time.Time
	pool *chunkcodec.BufferPool
	// dial opens player and publisher connections: loopback only, with
	// receive stamps.
	dial dialFunc
	http *http.Client

	// measuring is set during the measuring window.
	measuring atomic.Bool
	latency   histogram
	// socketLatency is the latency at the players' sockets (rxstamp.go).
	socketLatency histogram
	// maxSeq is one more than the highest stamp sequence number any player saw.
	maxSeq atomic.Uint64
	// published counts video frames the publisher sent.
	published atomic.Uint64

	wg     sync.WaitGroup // players and publisher goroutines
	connWG sync.WaitGroup // one per player until it connected or failed

	connectErrs errorCounts
	dropErrs    errorCounts

	// storm is the join storm (-storm), set before its first player starts.
	storm *stormRun
}

// Run runs one load test (or, with cfg.Floor, the kernel floor measurement)
// and returns its report. It returns an error when the configuration is
// invalid, a target is not on this machine, or the publisher cannot start;
// failures of players are counted in the report. Run is bounded in time by
// the ramp, cfg.Timeout, cfg.Warmup and cfg.Duration; cancelling ctx stops it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(ctx); err != nil {
		return nil, err
	}
	if cfg.Floor {
		return runFloor(ctx, cfg)
	}
	r := &runner{
		cfg:  cfg,
		t0:   time.Now(),
		pool: chunkcodec.NewBufferPool(),
		dial: rxDial(loopbackDialer(cfg.Timeout).DialContext),
	}
	r.http = newHTTPClient(r.dial, cfg.Timeout, cfg.ReadInterval)
	defer r.http.CloseIdleConnections()
	return r.run(ctx)
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "%6.1fs  "+format+"\n", append([]any{time.Since(r.t0).Seconds()}, args...)...)
}

func (r *runner) run(parent context.Context) (*Report, error) {
	cfg := r.cfg
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	rep := &Report{Mode: "server", Config: reportConfig(cfg)}

	sampler := &treeSampler{pid: cfg.PID}
	if err := sampler.start(ctx); err != nil {
		return nil, fmt.Errorf("-pid %d: %w", cfg.PID, err)
	}

	var pubErr atomic.Pointer[error]
	if cfg.Publish {
		src, err := r.source()
		if err != nil {
			return nil, err
		}
		pub, err := r.startPublisher(ctx, src)
		if err != nil {
			return nil, fmt.Errorf("publish: %w", err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := r.publish(ctx, pub, src); err != nil && ctx.Err() == nil {
				pubErr.Store(&err)
				r.logf("publisher failed: %v", err)
			}
		}()
		r.logf("publishing %s", cfg.URL)
	}

	if cfg.Publish && cfg.Settle > 0 {
		// The stream's ring (GOP and lag allowance) fills now, so its memory
		// is in "before" and not counted as the players'.
		r.logf("settling for %v", cfg.Settle)
		select {
		case <-time.After(cfg.Settle):
		case <-ctx.Done():
		}
	}
	before := sampler.sample()

	// Players, started at cfg.Ramp per second, kinds interleaved.
	total := cfg.totalPlayers()
	players := make([]*player, 0, total)
	left := [numKinds]int{cfg.RTMPPlayers, cfg.HTTPPlayers, cfg.WSPlayers}
	for len(players) < total {
		for k := range numKinds {
			if left[k] > 0 {
				left[k]--
				players = append(players, &player{id: len(players), kind: k})
			}
		}
	}
	r.connWG.Add(total)
	r.logf("starting %d players (%d rtmp, %d http-flv, %d ws-flv)", total, cfg.RTMPPlayers, cfg.HTTPPlayers, cfg.WSPlayers)
	launched := r.launch(ctx, players, cfg.Ramp)
	waitCtx(ctx, &r.connWG)
	connectedAt := time.Since(r.t0)
	r.logf("players: %d connected, %d failed", countState(players, stateConnected)+countState(players, stateDropped), countState(players, stateFailed))

	sleepCtx(ctx, cfg.Warmup)

	// Window start.
	startSample := sampler.sample()
	startTool := selfCPU()
	startMem := heapAllocs()
	startMachine, machineErr0 := readMachineCPU()
	startPub := r.published.Load()
	startSeq := r.maxSeq.Load()
	for _, p := range players {
		p.snapFrames, p.snapBytes = p.frames.Load(), p.bytes.Load()
	}
	r.measuring.Store(true)
	winStart := time.Now()
	if cfg.Storm > 0 {
		r.startStorm(ctx, len(players))
	}
	r.logf("measuring for %v", cfg.Duration)
	sleepCtx(ctx, cfg.Duration)
	var stormBytes uint64
	if r.storm != nil {
		r.storm.waitEnd(ctx) // the window lasts until the storm is over
		stormBytes = r.storm.bytes()
	}

	// Window end.
	r.measuring.Store(false)
	window := time.Since(winStart)
	endMono := int64(time.Since(r.t0))
	endPub := r.published.Load()
	endSeq := r.maxSeq.Load()
	endTool := selfCPU()
	endMem := heapAllocs()
	endMachine, machineErr1 := readMachineCPU()
	endSample := sampler.sample()
	interrupted := parent.Err() != nil

	type result struct {
		frames, bytes  uint64
		gap            int64
		state          int32
		first, connect int64
	}
	res := make([]result, len(players))
	for i, p := range players {
		gap := p.maxGap.Load()
		if last := p.lastFrame.Load(); last != 0 && p.frames.Load() > p.snapFrames {
			gap = max(gap, endMono-last) // a player that stopped receiving
		} else if p.state.Load() != stateFailed {
			gap = max(gap, int64(window)) // nothing during the window
		}
		res[i] = result{
			frames:  p.frames.Load() - p.snapFrames,
			bytes:   p.bytes.Load() - p.snapBytes,
			gap:     gap,
			state:   p.state.Load(),
			first:   p.firstFrame.Load(),
			connect: p.connect.Load(),
		}
	}

	// Stop everything.
	cancel()
	sampler.stop()
	stopped := waitTimeout(&r.wg, stopTimeout)
	r.logf("stopped")

	// Report.
	rep.WindowSeconds = window.Seconds()
	rep.Interrupted = interrupted
	rep.ConnectSeconds = connectedAt.Seconds()
	rep.Launched = launched
	if !stopped {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("some players did not stop within %v", stopTimeout))
	}
	if e := pubErr.Load(); e != nil {
		rep.PublisherError = (*e).Error()
	}

	published := endPub - startPub
	rep.PublishedSource = "publisher"
	if !cfg.Publish {
		switch {
		case startSeq > 0 && endSeq > startSeq:
			published = endSeq - startSeq
			rep.PublishedSource = "stamp sequence numbers"
		default:
			published = uint64(cfg.FPS * window.Seconds())
			rep.PublishedSource = "-fps x window"
		}
	}
	rep.PublishedFrames = published

	pr := &rep.Players
	pr.Requested = total
	pr.ByKind = map[string]KindCounts{}
	var firsts, keepups, connects []float64
	var delivered uint64
	var maxGap int64
	for i, p := range players {
		x := res[i]
		kc := pr.ByKind[p.kind.String()]
		kc.Requested++
		switch x.state {
		case stateFailed:
			pr.Failed++
			kc.Failed++
		default:
			pr.Connected++
			kc.Connected++
			if x.state == stateDropped {
				pr.Dropped++
				kc.Dropped++
			}
			if x.connect > 0 {
				connects = append(connects, float64(x.connect)/1e6)
			}
			if x.first == 0 {
				pr.NoVideo++
			} else {
				firsts = append(firsts, float64(x.first)/1e6)
			}
			ku := 0.0
			if published > 0 {
				ku = float64(x.frames) / float64(published)
			}
			keepups = append(keepups, ku)
			kc.Frames += x.frames
			maxGap = max(maxGap, x.gap)
		}
		pr.ByKind[p.kind.String()] = kc
		delivered += x.bytes
	}
	if r.storm != nil {
		rep.Storm = r.storm.report(cfg.StormRate, stormBytes)
		delivered += stormBytes
		if w := rep.Storm.warning(); w != "" {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	pr.ConnectErrors = r.connectErrs.snapshot()
	pr.DropErrors = r.dropErrs.snapshot()

	firsts, keepups = sortedCopy(firsts), sortedCopy(keepups)
	rep.FirstFrameMedianMS = percentile(firsts, 0.5)
	rep.FirstFrameP99MS = percentile(firsts, 0.99)
	connects = sortedCopy(connects)
	rep.ConnectMedianMS = percentile(connects, 0.5)
	rep.ConnectP99MS = percentile(connects, 0.99)
	if len(keepups) > 0 {
		rep.KeepUpMin = keepups[0]
		rep.KeepUpMedian = percentile(keepups, 0.5)
	}
	rep.StallMaxMS = float64(maxGap) / 1e6
	rep.DeliveredBytes = delivered
	if window > 0 {
		rep.DeliveredMBps = float64(delivered) / 1e6 / window.Seconds()
	}

	rep.Latency = latencyReport(r.latency.snapshot())
	rep.SocketLatency = latencyReport(r.socketLatency.snapshot())

	if cfg.PID > 0 {
		rep.Server = serverReport(cfg.PID, before, startSample, endSample, sampler.peak(), delivered, pr.Connected, window)
		if sampler.err != nil {
			rep.Warnings = append(rep.Warnings, "server sampling: "+sampler.err.Error())
		}
	}
	rep.Tool = toolReport(endTool-startTool, window)
	rep.Tool.HeapAllocs = endMem.objects - startMem.objects
	rep.Tool.HeapAllocBytes = endMem.bytes - startMem.bytes
	if rep.Tool.Warning != "" {
		rep.Warnings = append(rep.Warnings, rep.Tool.Warning)
	}
	if machineErr0 == nil && machineErr1 == nil {
		measured := endTool - startTool
		if cfg.PID > 0 {
			measured += endSample.CPU - startSample.CPU
		}
		rep.Machine = machineReport(startMachine, endMachine, measured, window)
		if w := rep.Machine.warning(); w != "" {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	if pr.Connected > 0 && rep.Latency.Samples == 0 {
		rep.Warnings = append(rep.Warnings, "no latency stamps received (the stream is not rtmpbench's, or frames are not AVC with 4-byte NAL lengths)")
	}
	return rep, nil
}

// launch starts the players' goroutines at rate per second (all at once when
// rate is negative) and returns how many it started; the rest, when ctx ends
// during the ramp, are marked failed.
func (r *runner) launch(ctx context.Context, players []*player, rate float64) int {
	start := time.Now()
	timer := time.NewTimer(time.Hour) // re-armed before each wait
	defer timer.Stop()
	for i, p := range players {
		if rate > 0 {
			due := time.Duration(float64(i) / rate * float64(time.Second))
			if d := due - time.Since(start); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
				}
			}
		}
		if ctx.Err() != nil {
			for _, q := range players[i:] {
				q.state.Store(stateFailed)
				wg, errs := r.connectGroup(q)
				errs.add(ctx.Err())
				wg.Done()
			}
			return i
		}
		r.wg.Add(1)
		go r.runPlayer(ctx, p)
	}
	return len(players)
}

// countState counts players in state s.
func countState(players []*player, s int32) int {
	n := 0
	for _, p := range players {
		if p.state.Load() == s {
			n++
		}
	}
	return n
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// waitCtx waits for wg or ctx.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// waitTimeout waits for wg at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	waitCtx(ctx, wg)
	return ctx.Err() == nil
}
