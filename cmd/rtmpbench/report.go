package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// toolBusyShare is the share of one core above which the tool warns that it
// may have been the bottleneck.
const toolBusyShare = 0.8

// Report is the result of one run, written as JSON by -json and summarised
// on stdout. Times are in the unit their name says; "GB" is 1e9 bytes and
// "MB" 1e6 bytes.
type Report struct {
	// Mode is "server" (an RTMP run) or "floor".
	Mode   string       `json:"mode"`
	Config ReportConfig `json:"config"`
	// WindowSeconds is the measuring window's actual length.
	WindowSeconds float64 `json:"window_seconds"`
	// Interrupted says the run was cut short (the window may be shorter).
	Interrupted bool `json:"interrupted,omitempty"`
	// ConnectSeconds is when every player had connected or failed, from the start.
	ConnectSeconds float64 `json:"connect_seconds,omitempty"`
	// Launched is how many players were started.
	Launched int           `json:"launched,omitempty"`
	Players  PlayersReport `json:"players"`
	// PublishedFrames is the video frames published during the window;
	// PublishedSource says how it is known.
	PublishedFrames uint64 `json:"published_frames"`
	PublishedSource string `json:"published_source,omitempty"`
	PublisherError  string `json:"publisher_error,omitempty"`
	// FirstFrame*MS: time from connect start to the first video frame.
	FirstFrameMedianMS float64 `json:"first_frame_median_ms"`
	FirstFrameP99MS    float64 `json:"first_frame_p99_ms"`
	// Connect*MS are over connected players: the time from connect start
	// (TCP dial) to NetStream.Play.Start (RTMP), the response headers
	// (HTTP-FLV) or the upgrade response (WebSocket-FLV).
	ConnectMedianMS float64 `json:"connect_median_ms"`
	ConnectP99MS    float64 `json:"connect_p99_ms"`
	// KeepUp* are over connected players: video frames received during the
	// window divided by PublishedFrames.
	KeepUpMin    float64 `json:"keep_up_min"`
	KeepUpMedian float64 `json:"keep_up_median"`
	// StallMaxMS is the largest gap between consecutive video frames of any
	// player during the window.
	StallMaxMS float64 `json:"stall_max_ms"`
	// DeliveredBytes is what all players read during the window (RTMP chunk
	// stream, HTTP body or WebSocket frames).
	DeliveredBytes uint64        `json:"delivered_bytes"`
	DeliveredMBps  float64       `json:"delivered_mb_per_s"`
	Latency        LatencyReport `json:"latency"`
	// SocketLatency is the same frames' latency at the players' sockets:
	// the kernel's arrival stamp of the segment that completed the frame
	// minus the send stamp. It leaves out the time the load tool took to
	// read and decode (rxstamp.go). In floor mode it times each write, from
	// the start of the writer's pass over the readers.
	SocketLatency LatencyReport  `json:"socket_latency"`
	Server        *ServerReport  `json:"server,omitempty"`
	Tool          ToolReport     `json:"tool"`
	Machine       *MachineReport `json:"machine,omitempty"`
	Floor         *FloorReport   `json:"floor,omitempty"`
	Storm         *StormReport   `json:"storm,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// ReportConfig is the configuration a report was made with.
type ReportConfig struct {
	URL                 string  `json:"url,omitempty"`
	HTTPURL             string  `json:"http_url,omitempty"`
	WSURL               string  `json:"ws_url,omitempty"`
	Publish             bool    `json:"publish"`
	Input               string  `json:"input,omitempty"`
	FPS                 float64 `json:"fps"`
	Bitrate             int64   `json:"bitrate"`
	AudioBitrate        int64   `json:"audio_bitrate"`
	GOP                 int     `json:"gop"`
	Fast                bool    `json:"fast,omitempty"`
	RTMPPlayers         int     `json:"rtmp_players"`
	HTTPPlayers         int     `json:"http_players"`
	WSPlayers           int     `json:"ws_players"`
	Ramp                float64 `json:"ramp"`
	WarmupSeconds       float64 `json:"warmup_seconds"`
	DurationSeconds     float64 `json:"duration_seconds"`
	PID                 int     `json:"pid,omitempty"`
	FloorBatchSeconds   float64 `json:"floor_batch_seconds,omitempty"`
	ReadIntervalSeconds float64 `json:"read_interval_seconds,omitempty"`
	Storm               int     `json:"storm,omitempty"`
	StormRate           float64 `json:"storm_rate,omitempty"`
}

// reportConfig is the part of cfg shown in reports.
func reportConfig(cfg Config) ReportConfig {
	rc := ReportConfig{
		URL: cfg.URL, HTTPURL: cfg.HTTPURL, WSURL: cfg.WSURL, Publish: cfg.Publish, Input: cfg.Input,
		FPS: cfg.FPS, Bitrate: cfg.Bitrate, AudioBitrate: cfg.AudioBitrate, GOP: cfg.GOP, Fast: cfg.Fast,
		RTMPPlayers: cfg.RTMPPlayers, HTTPPlayers: cfg.HTTPPlayers, WSPlayers: cfg.WSPlayers,
		Ramp: cfg.Ramp, WarmupSeconds: cfg.Warmup.Seconds(), DurationSeconds: cfg.Duration.Seconds(),
		PID: cfg.PID, ReadIntervalSeconds: cfg.ReadInterval.Seconds(),
	}
	if cfg.Floor {
		rc.FloorBatchSeconds = cfg.FloorBatch.Seconds()
	}
	if cfg.Storm > 0 {
		rc.Storm, rc.StormRate = cfg.Storm, cfg.StormRate
	}
	return rc
}

// PlayersReport counts players by outcome.
type PlayersReport struct {
	Requested int `json:"requested"`
	// Connected players played (including Dropped ones); Failed ones did
	// not get through the connect.
	Connected int `json:"connected"`
	Failed    int `json:"failed"`
	// Dropped players lost their stream before the run ended.
	Dropped int `json:"dropped"`
	// NoVideo players connected but received no video frame.
	NoVideo int                   `json:"no_video"`
	ByKind  map[string]KindCounts `json:"by_kind"`
	// ConnectErrors and DropErrors count error messages (ports elided).
	ConnectErrors map[string]int `json:"connect_errors,omitempty"`
	DropErrors    map[string]int `json:"drop_errors,omitempty"`
}

// KindCounts are the outcomes of one kind of player.
type KindCounts struct {
	Requested int    `json:"requested"`
	Connected int    `json:"connected"`
	Failed    int    `json:"failed"`
	Dropped   int    `json:"dropped"`
	Frames    uint64 `json:"frames_in_window"`
}

// LatencyReport is the end-to-end latency of video frames received during
// the window: receive time minus the publisher's send time in the frame's SEI
// stamp. Percentiles are within about 2 % of the exact value.
type LatencyReport struct {
	Samples uint64  `json:"samples"`
	P50MS   float64 `json:"p50_ms"`
	P90MS   float64 `json:"p90_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// ServerReport is the server process tree's cost (-pid): CPU time over the
// window and memory.
type ServerReport struct {
	PID       int `json:"pid"`
	Processes int `json:"processes"`
	// CPUSeconds is user+system time of the tree during the window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUCoreShare is CPUSeconds divided by the window length.
	CPUCoreShare float64 `json:"cpu_core_share"`
	// CPUPerGB is CPUSeconds per delivered GB.
	CPUPerGB float64 `json:"cpu_seconds_per_gb"`
	// RSS sums (VmRSS) before players connected, at window start and end;
	// the peak of those sampled every 500 ms; and the sum of VmHWM at the end.
	RSSBeforeKB      int64 `json:"rss_before_kb"`
	RSSWindowStartKB int64 `json:"rss_window_start_kb"`
	RSSWindowEndKB   int64 `json:"rss_window_end_kb"`
	PeakRSSKB        int64 `json:"peak_rss_kb"`
	HWMSumKB         int64 `json:"hwm_sum_kb"`
	// RSSPerPlayerKB is (RSS at window start - RSS before players) / connected players.
	RSSPerPlayerKB float64 `json:"rss_per_player_kb"`
}

// ToolReport is rtmpbench's own CPU use during the window.
type ToolReport struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	// CoreShare is CPUSeconds divided by the window length.
	CoreShare  float64 `json:"core_share"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	// HeapAllocs and HeapAllocBytes count the tool's heap allocations in
	// the window; players should not allocate per message, so these stay
	// small next to the frames received.
	HeapAllocs     uint64 `json:"heap_allocs"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	Warning        string `json:"warning,omitempty"`
}

// MachineReport is the whole machine's CPU use during the window (from
// /proc/stat), to tell whether other processes competed with the server or
// the tool. Values are in cores (CPU seconds per second).
type MachineReport struct {
	Cores float64 `json:"cores"`
	// BusyCores is all non-idle time; OtherCores is BusyCores minus the
	// server's process tree (with -pid) and the tool itself.
	BusyCores  float64 `json:"busy_cores"`
	OtherCores float64 `json:"other_cores"`
	// StealCores is time the hypervisor gave to other guests.
	StealCores float64 `json:"steal_cores"`
}

// otherBusyShare is the CPU use of other processes (in cores) above which
// a run is flagged as noisy.
const otherBusyShare = 0.2

// machineReport computes the machine's figures; measured is the CPU time of
// the server tree and the tool in the window.
func machineReport(start, end machineCPU, measured, window time.Duration) *MachineReport {
	if window <= 0 {
		return nil
	}
	w := window.Seconds()
	busy := (end.Busy - start.Busy).Seconds() / w
	return &MachineReport{
		Cores:      float64(end.Cores),
		BusyCores:  busy,
		OtherCores: max(busy-measured.Seconds()/w, 0),
		StealCores: (end.Steal - start.Steal).Seconds() / w,
	}
}

// warning returns a warning when other processes or the hypervisor took
// enough CPU to disturb the measurement, or "".
func (m *MachineReport) warning() string {
	if m == nil || (m.OtherCores < otherBusyShare && m.StealCores < otherBusyShare) {
		return ""
	}
	return fmt.Sprintf("WARNING: other processes used %.0f%% of a core (steal %.0f%%) during the window: the numbers may be disturbed",
		100*m.OtherCores, 100*m.StealCores)
}

// FloorReport is the result of -floor: the kernel's cost of delivering the
// same bytes over loopback TCP with no server logic.
type FloorReport struct {
	Readers int `json:"readers"`
	// WriteBytes is the size of each write; one write per reader per period.
	WriteBytes    int     `json:"write_bytes"`
	PeriodSeconds float64 `json:"period_seconds"`
	// WritesPerSecond counts the writer's writes during the window.
	WritesPerSecond float64 `json:"writes_per_second"`
	// WriterCPUSeconds is the writer thread's user+system time in the window.
	WriterCPUSeconds float64 `json:"writer_cpu_seconds"`
	WriterCoreShare  float64 `json:"writer_core_share"`
	WriterCPUPerGB   float64 `json:"writer_cpu_seconds_per_gb"`
	// KeepUp is delivered bytes divided by the bytes due in the window.
	KeepUp float64 `json:"keep_up"`
	// WriterCPU is the CPU the writer thread was pinned to, -1 if none.
	WriterCPU int `json:"writer_cpu"`
	// AckWindow is the bytes each reader read between its RTMP
	// Acknowledgements, 0 if the readers never wrote.
	AckWindow int64 `json:"ack_window"`
	// AcksPerSecond counts the readers' acknowledgements during the window.
	AcksPerSecond float64 `json:"acks_per_second"`
}

// serverReport computes the server's figures from the samples.
func serverReport(pid int, before, start, end treeSample, peak int64, delivered uint64, connected int, window time.Duration) *ServerReport {
	cpu := end.CPU - start.CPU
	s := &ServerReport{
		PID:              pid,
		Processes:        end.Procs,
		CPUSeconds:       cpu.Seconds(),
		RSSBeforeKB:      before.RSS >> 10,
		RSSWindowStartKB: start.RSS >> 10,
		RSSWindowEndKB:   end.RSS >> 10,
		PeakRSSKB:        max(peak, end.RSS) >> 10,
		HWMSumKB:         end.HWM >> 10,
	}
	if delivered > 0 {
		s.CPUPerGB = cpu.Seconds() / (float64(delivered) / 1e9)
	}
	if window > 0 {
		s.CPUCoreShare = cpu.Seconds() / window.Seconds()
	}
	if connected > 0 {
		s.RSSPerPlayerKB = float64(start.RSS-before.RSS) / 1024 / float64(connected)
	}
	return s
}

// toolReport computes the tool's own CPU figures.
func toolReport(cpu, window time.Duration) ToolReport {
	t := ToolReport{CPUSeconds: cpu.Seconds(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if window > 0 {
		t.CoreShare = cpu.Seconds() / window.Seconds()
	}
	if t.CoreShare > toolBusyShare {
		t.Warning = fmt.Sprintf("WARNING: rtmpbench used %.0f%% of a core: it may have been the bottleneck", 100*t.CoreShare)
	}
	return t
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes a human summary.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	if r.Floor != nil {
		f := r.Floor
		p("floor: %d loopback TCP readers, %d-byte writes every %.1f ms (%.0f writes/s), window %.1fs",
			f.Readers, f.WriteBytes, f.PeriodSeconds*1000, f.WritesPerSecond, r.WindowSeconds)
		if f.AckWindow > 0 {
			p("readers:     an RTMP Acknowledgement every %d bytes read (%.1f/s in all)", f.AckWindow, f.AcksPerSecond)
		} else {
			p("readers:     never write")
		}
		p("delivered:   %.1f MB/s (keep-up %.3f)", r.DeliveredMBps, f.KeepUp)
		p("writer CPU:  %.2f s (%.0f%% of a core), %.3f CPU-s/GB", f.WriterCPUSeconds, 100*f.WriterCoreShare, f.WriterCPUPerGB)
		if l := r.SocketLatency; l.Samples > 0 {
			p("at socket:   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d writes, from the start of the writer's pass)", l.P50MS, l.P90MS, l.P99MS, l.MaxMS, l.Samples)
		}
		p("tool CPU:    %.2f s (%.0f%% of a core, all threads)", r.Tool.CPUSeconds, 100*r.Tool.CoreShare)
		r.writeMachine(w)
		for _, s := range r.Warnings {
			p("%s", s)
		}
		return
	}
	pl := r.Players
	p("players:     %d/%d connected, %d failed, %d dropped, %d without video (window %.1fs, all connected after %.1fs)",
		pl.Connected, pl.Requested, pl.Failed, pl.Dropped, pl.NoVideo, r.WindowSeconds, r.ConnectSeconds)
	for _, k := range slices.Sorted(maps.Keys(pl.ByKind)) {
		c := pl.ByKind[k]
		p("  %-9s  %d/%d connected, %d failed, %d dropped", k, c.Connected, c.Requested, c.Failed, c.Dropped)
	}
	writeErrors(w, "connect errors", pl.ConnectErrors)
	writeErrors(w, "drop errors", pl.DropErrors)
	p("published:   %d video frames in the window (%s)", r.PublishedFrames, r.PublishedSource)
	if r.PublisherError != "" {
		p("publisher:   FAILED: %s", r.PublisherError)
	}
	if pl.Connected > pl.NoVideo {
		p("first frame: median %.0f ms, p99 %.0f ms", r.FirstFrameMedianMS, r.FirstFrameP99MS)
	} else {
		p("first frame: n/a (no player received video)")
	}
	if pl.Connected > 0 {
		p("connect:     median %.1f ms, p99 %.1f ms", r.ConnectMedianMS, r.ConnectP99MS)
	}
	if r.Storm != nil {
		r.Storm.writeText(w)
	}
	p("keep-up:     min %.3f, median %.3f;  largest stall %.0f ms", r.KeepUpMin, r.KeepUpMedian, r.StallMaxMS)
	p("delivered:   %.1f MB/s", r.DeliveredMBps)
	if r.Latency.Samples > 0 {
		l := r.Latency
		p("latency:     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d frames)", l.P50MS, l.P90MS, l.P99MS, l.MaxMS, l.Samples)
	} else {
		p("latency:     n/a (no stamped frames)")
	}
	if l := r.SocketLatency; l.Samples > 0 {
		p("  at socket: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms (%d frames)", l.P50MS, l.P90MS, l.P99MS, l.MaxMS, l.Samples)
	}
	if s := r.Server; s != nil {
		p("server:      pid %d (%d processes): %.2f CPU-s (%.0f%% of a core), %.3f CPU-s/GB", s.PID, s.Processes, s.CPUSeconds, 100*s.CPUCoreShare, s.CPUPerGB)
		p("server RSS:  %.1f MB before players, %.1f MB at window start, peak %.1f MB; %.1f KB per player",
			float64(s.RSSBeforeKB)/1024, float64(s.RSSWindowStartKB)/1024, float64(s.PeakRSSKB)/1024, s.RSSPerPlayerKB)
	}
	p("tool CPU:    %.2f s (%.0f%% of a core, GOMAXPROCS %d); %d heap allocations (%.1f MB) in the window",
		r.Tool.CPUSeconds, 100*r.Tool.CoreShare, r.Tool.GOMAXPROCS, r.Tool.HeapAllocs, float64(r.Tool.HeapAllocBytes)/1e6)
	r.writeMachine(w)
	for _, s := range r.Warnings {
		p("%s", s)
	}
}

// writeMachine prints the machine line.
func (r *Report) writeMachine(w io.Writer) {
	if m := r.Machine; m != nil {
		fmt.Fprintf(w, "machine:     %.2f of %.0f cores busy, %.2f by other processes, %.2f stolen by the hypervisor\n",
			m.BusyCores, m.Cores, m.OtherCores, m.StealCores)
	}
}

// writeErrors prints error counts, most frequent first.
func writeErrors(w io.Writer, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	fmt.Fprintf(w, "  %s:\n", title)
	for _, k := range keys {
		fmt.Fprintf(w, "    %6d  %s\n", m[k], k)
	}
}

// tsvColumns are the columns of -tsv, in order.
var tsvColumns = []string{
	"mode", "requested", "connected", "failed", "dropped", "delivered_mb_s", "cpu_s_per_gb", "cpu_core_share",
	"rss_per_player_kb", "first_frame_median_ms", "first_frame_p99_ms", "keep_up_min", "keep_up_median",
	"stall_max_ms", "latency_p50_ms", "latency_p99_ms", "tool_core_share", "other_cores", "warnings",
	// Appended later; scripts read columns by position.
	"connect_median_ms", "connect_p99_ms", "storm_connect_median_ms", "storm_connect_p99_ms",
	"steal_cores", "socket_latency_p50_ms", "socket_latency_p99_ms",
}

// AppendTSV appends the report's headline numbers as one tab-separated line
// with the columns of tsvColumns ("-" where a number does not apply: server
// figures without -pid, latency without stamps). In floor mode the CPU
// columns are the writer thread's, keep-up is the floor's, and the socket
// latency is each write's from the start of the writer's pass.
func (r *Report) AppendTSV(dst []byte, header bool) []byte {
	if header {
		dst = append(dst, strings.Join(tsvColumns, "\t")...)
		dst = append(dst, '\n')
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	na := "-"
	cols := make([]string, 0, len(tsvColumns))
	warn := strings.ReplaceAll(strings.Join(r.Warnings, "; "), "\t", " ")
	if warn == "" {
		warn = na
	}
	other, steal := na, na
	if r.Machine != nil {
		other, steal = f(r.Machine.OtherCores, 2), f(r.Machine.StealCores, 2)
	}
	sp50, sp99 := na, na
	if l := r.SocketLatency; l.Samples > 0 {
		sp50, sp99 = f(l.P50MS, 2), f(l.P99MS, 2)
	}
	if fl := r.Floor; fl != nil {
		n := strconv.Itoa(fl.Readers)
		cols = append(cols, r.Mode, n, n, "0", "0", f(r.DeliveredMBps, 1), f(fl.WriterCPUPerGB, 3), f(fl.WriterCoreShare, 3),
			na, na, na, f(fl.KeepUp, 3), f(fl.KeepUp, 3), na, na, na, f(r.Tool.CoreShare, 3), other, warn,
			na, na, na, na, steal, sp50, sp99)
	} else {
		cpu, share, rss := na, na, na
		if s := r.Server; s != nil {
			cpu, share, rss = f(s.CPUPerGB, 3), f(s.CPUCoreShare, 3), f(s.RSSPerPlayerKB, 1)
		}
		p50, p99 := na, na
		if r.Latency.Samples > 0 {
			p50, p99 = f(r.Latency.P50MS, 2), f(r.Latency.P99MS, 2)
		}
		ffm, ffp := na, na
		if r.Players.Connected > r.Players.NoVideo {
			ffm, ffp = f(r.FirstFrameMedianMS, 0), f(r.FirstFrameP99MS, 0)
		}
		p := r.Players
		cm, cp, sm, sp := na, na, na, na
		if p.Connected > 0 {
			cm, cp = f(r.ConnectMedianMS, 1), f(r.ConnectP99MS, 1)
		}
		if s := r.Storm; s != nil && s.Connected > 0 {
			sm, sp = f(s.ConnectMedianMS, 1), f(s.ConnectP99MS, 1)
		}
		cols = append(cols, r.Mode, strconv.Itoa(p.Requested), strconv.Itoa(p.Connected), strconv.Itoa(p.Failed),
			strconv.Itoa(p.Dropped), f(r.DeliveredMBps, 1), cpu, share, rss, ffm, ffp,
			f(r.KeepUpMin, 3), f(r.KeepUpMedian, 3), f(r.StallMaxMS, 0), p50, p99, f(r.Tool.CoreShare, 3), other, warn,
			cm, cp, sm, sp, steal, sp50, sp99)
	}
	dst = append(dst, strings.Join(cols, "\t")...)
	return append(dst, '\n')
}

// latencyReport summarises a latency histogram's snapshot.
func latencyReport(s histSnapshot) LatencyReport {
	return LatencyReport{
		Samples: s.total,
		P50MS:   float64(s.percentile(0.50)) / 1e6,
		P90MS:   float64(s.percentile(0.90)) / 1e6,
		P99MS:   float64(s.percentile(0.99)) / 1e6,
		MaxMS:   float64(s.max) / 1e6,
	}
}
