package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// The join storm (-storm N -storm-rate R): once the base players have all
// connected and the warm-up has passed, the measuring window starts and N more
// RTMP players are started at R per second while the base players play. The
// window lasts at least -duration, and until every storm player has connected
// or failed plus stormTail. The storm players' connect time and time to first
// frame are reported apart from the base players'.

// DefaultStormRate is -storm-rate: storm players started per second.
const DefaultStormRate = 500

// MaxStormRate caps -storm-rate.
const MaxStormRate = 100_000

// stormTail is how long the window goes on after the last storm player
// connected or failed, so the server's cost of the storm's first frames
// falls in the window.
const stormTail = time.Second

// stormRun is one join storm. players, connWG and connectErrs are set up
// before the storm's goroutine starts; launched and doneAt are written by it
// before it closes done.
type stormRun struct {
	players     []*player
	connWG      sync.WaitGroup // one per storm player until it connected or failed
	connectErrs errorCounts
	start       time.Time // the storm's (and the window's) start

	launched atomic.Int64
	doneAt   time.Time     // when the last storm player connected or failed
	done     chan struct{} // closed after doneAt is set
}

// startStorm starts cfg.Storm RTMP players at cfg.StormRate per second on a
// goroutine that r.wg waits for; their ids follow the base players' (firstID
// on).
func (r *runner) startStorm(ctx context.Context, firstID int) *stormRun {
	s := &stormRun{players: make([]*player, r.cfg.Storm), start: time.Now(), done: make(chan struct{})}
	for i := range s.players {
		s.players[i] = &player{id: firstID + i, kind: kindRTMP, storm: true}
	}
	s.connWG.Add(len(s.players))
	r.storm = s // before any storm player runs: connectGroup reads it
	r.logf("join storm: %d rtmp players at %g/s", len(s.players), r.cfg.StormRate)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		s.launched.Store(int64(r.launch(ctx, s.players, r.cfg.StormRate)))
		s.connWG.Wait() // bounded: each connect is bounded by cfg.Timeout and ctx
		s.doneAt = time.Now()
		close(s.done)
	}()
	return s
}

// waitEnd returns when every storm player has connected or failed and
// stormTail has passed since, or when ctx ends.
func (s *stormRun) waitEnd(ctx context.Context) {
	select {
	case <-s.done:
	case <-ctx.Done():
		return
	}
	if d := time.Until(s.doneAt.Add(stormTail)); d > 0 {
		sleepCtx(ctx, d)
	}
}

// bytes is what the storm players have read so far.
func (s *stormRun) bytes() uint64 {
	var n uint64
	for _, p := range s.players {
		n += p.bytes.Load()
	}
	return n
}

// StormReport is the join storm (-storm): RTMP players started at
// RatePerSecond from the window's start while the base players play. Their
// bytes count in the report's delivered bytes (and so in the server's CPU-s
// per GB); keep-up, stalls, latency, first frame, connect and RSS per player
// in the rest of the report are the base players'.
type StormReport struct {
	Requested     int     `json:"requested"`
	RatePerSecond float64 `json:"rate_per_second"`
	Launched      int     `json:"launched"`
	Connected     int     `json:"connected"`
	Failed        int     `json:"failed"`
	Dropped       int     `json:"dropped"`
	NoVideo       int     `json:"no_video"`
	// SpanSeconds is from the storm's start to its last player connected
	// or failed (0 when the run was interrupted before).
	SpanSeconds float64 `json:"span_seconds"`
	// Connect*MS: from connect start (TCP dial) to NetStream.Play.Start,
	// over the storm players that connected.
	ConnectMedianMS float64 `json:"connect_median_ms"`
	ConnectP99MS    float64 `json:"connect_p99_ms"`
	// FirstFrame*MS: from connect start to the first video frame.
	FirstFrameMedianMS float64 `json:"first_frame_median_ms"`
	FirstFrameP99MS    float64 `json:"first_frame_p99_ms"`
	// DeliveredBytes is what the storm players read in the window.
	DeliveredBytes uint64         `json:"delivered_bytes"`
	ConnectErrors  map[string]int `json:"connect_errors,omitempty"`
}

// report summarises the storm; call it after the players stopped.
// delivered is the storm players' bytes at the window's end.
func (s *stormRun) report(rate float64, delivered uint64) *StormReport {
	rep := &StormReport{
		Requested:      len(s.players),
		RatePerSecond:  rate,
		Launched:       int(s.launched.Load()),
		DeliveredBytes: delivered,
		ConnectErrors:  s.connectErrs.snapshot(),
	}
	select {
	case <-s.done:
		rep.SpanSeconds = s.doneAt.Sub(s.start).Seconds()
	default:
	}
	var connects, firsts []float64
	for _, p := range s.players {
		switch p.state.Load() {
		case stateFailed:
			rep.Failed++
			continue
		case stateDropped:
			rep.Dropped++
		case stateConnecting:
			continue // the run ended first
		}
		rep.Connected++
		connects = append(connects, float64(p.connect.Load())/1e6)
		if f := p.firstFrame.Load(); f > 0 {
			firsts = append(firsts, float64(f)/1e6)
		} else {
			rep.NoVideo++
		}
	}
	connects, firsts = sortedCopy(connects), sortedCopy(firsts)
	rep.ConnectMedianMS, rep.ConnectP99MS = percentile(connects, 0.5), percentile(connects, 0.99)
	rep.FirstFrameMedianMS, rep.FirstFrameP99MS = percentile(firsts, 0.5), percentile(firsts, 0.99)
	return rep
}

// warning returns a warning when storm players failed, or "".
func (s *StormReport) warning() string {
	if s == nil || s.Failed == 0 {
		return ""
	}
	return fmt.Sprintf("storm: %d of %d players failed to connect", s.Failed, s.Requested)
}

// writeText prints the storm's line of the text report.
func (s *StormReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "storm:       %d/%d connected at %g/s (%d failed, %d dropped; all in %.1fs)", s.Connected, s.Requested,
		s.RatePerSecond, s.Failed, s.Dropped, s.SpanSeconds)
	if s.Connected > 0 {
		fmt.Fprintf(w, ": connect median %.1f ms, p99 %.1f ms; first frame median %.0f ms, p99 %.0f ms",
			s.ConnectMedianMS, s.ConnectP99MS, s.FirstFrameMedianMS, s.FirstFrameP99MS)
	}
	fmt.Fprintln(w)
	writeErrors(w, "storm connect errors", s.ConnectErrors)
}
