package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/server"
)

// startServer starts an in-process Quaver server on loopback ports.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	srv := server.New(server.Config{
		RTMPAddr:  "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		RecordDir: t.TempDir(),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	srv.Handle("live", &server.App{})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func TestRunSmoke(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log bytes.Buffer
	rep, err := Run(ctx, Config{
		URL:         "rtmp://" + srv.RTMPAddr() + "/live/smoke",
		HTTPURL:     "http://" + srv.HTTPAddr() + "/live/smoke.flv",
		Publish:     true,
		Bitrate:     1_000_000,
		RTMPPlayers: 5,
		HTTPPlayers: 2,
		WSPlayers:   2,
		Warmup:      500 * time.Millisecond,
		Duration:    3 * time.Second,
		Timeout:     5 * time.Second,
		PID:         os.Getpid(),
		Log:         &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("report:\n%s\nlog:\n%s", text.String(), log.String())

	p := rep.Players
	if p.Connected != 9 || p.Failed != 0 || p.Dropped != 0 || p.NoVideo != 0 {
		t.Errorf("players %+v", p)
	}
	for kind, want := range map[string]int{"rtmp": 5, "http-flv": 2, "ws-flv": 2} {
		if c := p.ByKind[kind]; c.Connected != want || c.Frames == 0 {
			t.Errorf("%s: %+v", kind, c)
		}
	}
	// How many frames the publisher got out in 3 s measures the machine too
	// (53 of 90 with both cores busy elsewhere): only none is a failure.
	if rep.PublishedFrames == 0 {
		t.Errorf("published %d frames in 3 s", rep.PublishedFrames)
	}
	// Keep-up is a measurement of the machine (make test runs this beside the
	// race-enabled browser and server suites on two cores): the smoke test
	// only checks that every player kept receiving.
	if rep.KeepUpMin <= 0 {
		t.Errorf("keep-up min %.3f", rep.KeepUpMin)
	}
	if rep.Latency.Samples == 0 || rep.Latency.P50MS <= 0 || rep.Latency.MaxMS < rep.Latency.P99MS {
		t.Errorf("latency %+v", rep.Latency)
	}
	checkSocketLatency(t, rep)
	if rep.FirstFrameMedianMS <= 0 || rep.DeliveredMBps <= 0 {
		t.Errorf("first frame %v ms, delivered %v MB/s", rep.FirstFrameMedianMS, rep.DeliveredMBps)
	}
	// Connecting (through NetStream.Play.Start, the response headers or the
	// upgrade) comes before the first frame.
	if rep.ConnectMedianMS <= 0 || rep.ConnectP99MS < rep.ConnectMedianMS || rep.ConnectMedianMS > rep.FirstFrameMedianMS {
		t.Errorf("connect median %v ms, p99 %v ms (first frame median %v ms)", rep.ConnectMedianMS, rep.ConnectP99MS, rep.FirstFrameMedianMS)
	}
	if rep.Server == nil || rep.Server.Processes < 1 || rep.Server.PeakRSSKB <= 0 {
		t.Errorf("server %+v", rep.Server)
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Players.Connected != 9 {
		t.Errorf("JSON round trip: %v, %+v", err, back.Players)
	}
	for _, line := range []string{"latency:", "at socket:", "connect:"} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text report lacks %q", line)
		}
	}
	checkTSV(t, rep)
}

func TestRunPlayOnlyCountsFailures(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// No publisher: players of a stream nobody publishes connect (the
	// server waits for a publisher) but get no video; HTTP players of a
	// wrong path fail.
	rep, _ := runLogged(t, ctx, Config{
		URL:         "rtmp://" + srv.RTMPAddr() + "/live/nobody",
		HTTPURL:     "http://" + srv.HTTPAddr() + "/nosuchapp/x.flv",
		RTMPPlayers: 2,
		HTTPPlayers: 2,
		Warmup:      100 * time.Millisecond,
		Duration:    500 * time.Millisecond,
		Timeout:     2 * time.Second,
	})
	if rep.Players.ByKind["http-flv"].Failed+rep.Players.ByKind["http-flv"].Dropped != 2 || len(rep.Players.ConnectErrors)+len(rep.Players.DropErrors) == 0 {
		t.Errorf("http players: %+v", rep.Players)
	}
	if rep.Latency.Samples != 0 || rep.PublishedSource != "-fps x window" {
		t.Errorf("latency %+v, published from %q", rep.Latency, rep.PublishedSource)
	}
}

func TestFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, batch := range []time.Duration{0, 100 * time.Millisecond} {
		// Per frame the readers acknowledge every 20 kB (about 3.2 a
		// second each); per 100 ms they never write.
		window := int64(20_000)
		if batch > 0 {
			window = 0
		}
		rep, err := Run(ctx, Config{
			Floor: true, FloorBatch: batch, FloorWriterCPU: -1, FloorAckWindow: window,
			RTMPPlayers: 4, Bitrate: 2_000_000,
			Warmup: 200 * time.Millisecond, Duration: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		f := rep.Floor
		if f == nil || f.Readers != 4 || f.KeepUp <= 0 || rep.DeliveredMBps <= 0 { // keep-up measures the machine
			t.Fatalf("batch %v: %+v, %+v", batch, rep, f)
		}
		want := (2_000_000 + DefaultAudioBitrate) / 8 / 30
		if batch > 0 {
			want = (2_000_000 + DefaultAudioBitrate) / 8 / 10
		}
		if f.WriteBytes != want {
			t.Errorf("batch %v: write size %d, want %d", batch, f.WriteBytes, want)
		}
		if f.AckWindow != window || (window > 0) != (f.AcksPerSecond > 0) {
			t.Errorf("batch %v: ack window %d, %.1f acks/s", batch, f.AckWindow, f.AcksPerSecond)
		}
		if l := rep.SocketLatency; l.Samples == 0 || l.P50MS <= 0 || l.MaxMS < l.P99MS {
			t.Errorf("batch %v: latency at socket %+v", batch, l)
		}
		var text bytes.Buffer
		rep.WriteText(&text)
		t.Log(text.String())
		checkTSV(t, rep)
	}
}

// A floor reader times each write its read completed, from the start of the
// write's pass; passes not begun or gone from the ring are not timed.
func TestFloorPassesLatency(t *testing.T) {
	f := new(floorPasses)
	h := new(histogram)
	f.begin(1000) // pass 0
	f.begin(5000) // pass 1
	const ws = 100
	f.recordLatency(h, 0, 0, 50, ws, 2000)    // no write complete
	f.recordLatency(h, 0, 50, 100, ws, 3000)  // pass 0: 2000
	f.recordLatency(h, 0, 100, 250, ws, 0)    // no stamp: pass 1 not timed
	f.recordLatency(h, 0, 250, 300, ws, 9000) // pass 2 not begun
	s := h.snapshot()
	if s.total != 1 || s.min != 2000 || s.max != 2000 {
		t.Fatalf("%d samples, min %d, max %d; want pass 0 alone at 2000", s.total, s.min, s.max)
	}
	f.recordLatency(h, 0, 0, 200, ws, 7000) // passes 0 and 1 in one read: 6000 and 2000
	if s = h.snapshot(); s.total != 3 || s.max != 6000 {
		t.Fatalf("%d samples, max %d after a read of two writes", s.total, s.max)
	}
	for range floorPassRing {
		f.begin(10_000)
	}
	if _, ok := f.start(0); ok {
		t.Fatal("pass 0 still timed after the ring wrapped")
	}
	if at, ok := f.start(floorPassRing + 1); !ok || at != 10_000 {
		t.Fatalf("latest pass: %d, %v", at, ok)
	}
	if n := testing.AllocsPerRun(100, func() { f.recordLatency(h, 1, 0, 2*ws, ws, 20_000) }); n != 0 {
		t.Errorf("%v allocations per read", n)
	}
}

func TestFloorAcker(t *testing.T) {
	var a floorAcker
	if a.read(1000, 2500) != nil || a.read(1499, 2500) != nil {
		t.Fatal("acknowledged before the window")
	}
	if got, want := a.read(1, 2500), chunkcodec.AppendAck(nil, 2500); !bytes.Equal(got, want) {
		t.Fatalf("at the window: % x, want % x", got, want)
	}
	if got, want := a.read(4000, 2500), chunkcodec.AppendAck(nil, 6500); !bytes.Equal(got, want) {
		t.Fatalf("past the window: % x, want % x", got, want) // the count read so far, not a multiple of the window
	}
	a = floorAcker{read64: 1<<32 - 10, acked: 1<<32 - 10}
	if got, want := a.read(2510, 2500), chunkcodec.AppendAck(nil, 2500); !bytes.Equal(got, want) {
		t.Fatalf("across 2^32: % x, want % x", got, want)
	}
	var silent floorAcker
	if silent.read(10<<20, 0) != nil {
		t.Fatal("window 0 acknowledged")
	}
	if n := testing.AllocsPerRun(100, func() { a.read(2500, 2500) }); n != 0 {
		t.Errorf("%v allocations per acknowledgement", n)
	}
}

// tsvPositions are -tsv columns that scripts (bench/compare.sh) read by
// position (1-based): new columns go at the end.
var tsvPositions = map[int]string{
	1: "mode", 4: "failed", 6: "delivered_mb_s", 7: "cpu_s_per_gb", 8: "cpu_core_share", 9: "rss_per_player_kb",
	10: "first_frame_median_ms", 12: "keep_up_min", 13: "keep_up_median", 14: "stall_max_ms",
	15: "latency_p50_ms", 16: "latency_p99_ms", 18: "other_cores", 19: "warnings",
	20: "connect_median_ms", 21: "connect_p99_ms", 22: "storm_connect_median_ms", 23: "storm_connect_p99_ms",
	24: "steal_cores", 25: "socket_latency_p50_ms", 26: "socket_latency_p99_ms",
}

// checkTSV checks that -tsv writes a header and a row of the same width, with
// the columns scripts read where they expect them.
func checkTSV(t *testing.T, rep *Report) {
	t.Helper()
	for pos, name := range tsvPositions {
		if pos > len(tsvColumns) || tsvColumns[pos-1] != name {
			t.Errorf("TSV column %d is not %s: %q", pos, name, tsvColumns)
		}
	}
	lines := strings.Split(strings.TrimSuffix(string(rep.AppendTSV(nil, true)), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("TSV lines: %q", lines)
	}
	for _, l := range lines {
		if n := len(strings.Split(l, "\t")); n != len(tsvColumns) {
			t.Errorf("TSV line has %d columns, want %d: %q", n, len(tsvColumns), l)
		}
	}
}

func TestRunStorm(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, text := runLogged(t, ctx, Config{
		URL:         "rtmp://" + srv.RTMPAddr() + "/live/storm",
		Publish:     true,
		Bitrate:     500_000,
		RTMPPlayers: 3,
		Storm:       20,
		StormRate:   100,
		Warmup:      300 * time.Millisecond,
		Duration:    500 * time.Millisecond,
		Timeout:     5 * time.Second,
	})
	s := rep.Storm
	if s == nil {
		t.Fatal("no storm in the report")
	}
	if s.Requested != 20 || s.Launched != 20 || s.Connected != 20 || s.Failed != 0 || s.RatePerSecond != 100 {
		t.Errorf("storm %+v", s)
	}
	// 20 players at 100/s start over 0.19 s; the window then lasts until
	// the last one connected plus stormTail, beyond -duration.
	if s.SpanSeconds < 0.19 || rep.WindowSeconds < s.SpanSeconds+stormTail.Seconds()-0.05 {
		t.Errorf("storm over after %.2fs, window %.2fs", s.SpanSeconds, rep.WindowSeconds)
	}
	if s.ConnectMedianMS <= 0 || s.ConnectP99MS < s.ConnectMedianMS || s.FirstFrameMedianMS < s.ConnectMedianMS || s.DeliveredBytes == 0 {
		t.Errorf("storm %+v", s)
	}
	// The base players are reported on their own; the storm's bytes count
	// in the delivered total.
	if rep.Players.Requested != 3 || rep.Players.Connected != 3 || rep.DeliveredBytes <= s.DeliveredBytes {
		t.Errorf("players %+v, delivered %d (storm %d)", rep.Players, rep.DeliveredBytes, s.DeliveredBytes)
	}
	if !strings.Contains(text, "storm:") {
		t.Error("text report lacks the storm line")
	}
	checkTSV(t, rep)
	row := strings.Split(strings.TrimSuffix(string(rep.AppendTSV(nil, false)), "\n"), "\t")
	if row[21] == "-" || row[22] == "-" {
		t.Errorf("storm TSV columns %q", row[21:])
	}
}

// Players of every kind that read every 50 ms get the stream.
func TestRunReadInterval(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, _ := runLogged(t, ctx, Config{
		URL:          "rtmp://" + srv.RTMPAddr() + "/live/paced",
		HTTPURL:      "http://" + srv.HTTPAddr() + "/live/paced.flv",
		Publish:      true,
		Bitrate:      1_000_000,
		RTMPPlayers:  2,
		HTTPPlayers:  2,
		WSPlayers:    2,
		ReadInterval: 50 * time.Millisecond,
		Warmup:       300 * time.Millisecond,
		Duration:     2 * time.Second,
		Timeout:      5 * time.Second,
	})
	p := rep.Players
	if p.Connected != 6 || p.Failed != 0 || p.Dropped != 0 || p.NoVideo != 0 || rep.Config.ReadIntervalSeconds != 0.05 {
		t.Errorf("players %+v, config %+v", p, rep.Config)
	}
	for kind, c := range p.ByKind {
		if c.Frames == 0 {
			t.Errorf("%s: no frames in the window", kind)
		}
	}
	if rep.KeepUpMin <= 0 || rep.Latency.Samples == 0 {
		t.Errorf("keep-up min %.3f, %d latency samples", rep.KeepUpMin, rep.Latency.Samples)
	}
	checkSocketLatency(t, rep)
}

// checkSocketLatency checks that every frame timed by the tool was also
// timed at its socket, where it arrived before the tool decoded it.
func checkSocketLatency(t *testing.T, rep *Report) {
	t.Helper()
	s, l := rep.SocketLatency, rep.Latency
	if s.Samples != l.Samples || s.P50MS <= 0 || s.P50MS > l.P50MS || s.P99MS > l.P99MS || s.MaxMS > l.MaxMS {
		t.Errorf("socket latency %+v, latency %+v", s, l)
	}
}

// runLogged runs cfg, fails the test on an error, and logs and returns the
// text report.
func runLogged(t *testing.T, ctx context.Context, cfg Config) (*Report, string) {
	t.Helper()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Log(text.String())
	return rep, text.String()
}
