// Command rtmpbench is a load generator for RTMP servers: one publisher and
// thousands of RTMP, HTTP-FLV and WebSocket-FLV players on this machine,
// measuring what the players get (time to first frame, keep-up, stalls,
// end-to-end latency through an SEI timestamp in every video frame) and what
// the server pays for it (CPU seconds per delivered GB, memory per player).
// -floor measures the kernel's own cost of the same delivery with no server.
//
// It works against any server that forwards the bytes of video frames
// (Quaver's rtmpd, nginx-rtmp, SRS, ...), and only against servers on this
// machine: every URL must resolve to a loopback address.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

const usageHead = `Usage: rtmpbench [flags]

Load generator for RTMP servers. Publishes one stream (generated, or an FLV
file looped) to -url and plays it back with -rtmp-players RTMP players,
-http-players HTTP-FLV players and -ws-players WebSocket-FLV players, then
reports: players connected/failed, time to first frame, keep-up (frames
received / frames published in the window), the largest stall, delivered MB/s,
end-to-end latency (every video frame carries the publisher's send time in an
H.264 SEI user_data_unregistered NAL unit), measured when the player has decoded
the frame and when its last byte reached the player's socket (the kernel's
receive stamp, which leaves out the load tool's own delay), and with -pid the server's CPU
seconds per delivered GB and RSS per player. Players start at -ramp per second;
after all have connected (or failed), -warmup passes, then -duration is the
measuring window.

Only loopback targets are allowed: every URL's host must resolve to
127.0.0.0/8 or ::1, and every connection is checked again when it is made.
rtmpbench is for measuring servers on this machine, never a remote host.

Examples:
  rtmpd -rtmp 127.0.0.1:1935 -http 127.0.0.1:8080 -loops 1 &
  rtmpbench -url rtmp://127.0.0.1/live/bench -rtmp-players 1000 -pid $!
  rtmpbench -url rtmp://127.0.0.1/live/bench -http-url http://127.0.0.1:8080/live/bench.flv \
      -rtmp-players 100 -http-players 100 -ws-players 100 -json out.json
  rtmpbench -url rtmp://127.0.0.1/live/bench -rtmp-players 1000 -storm 1000 -storm-rate 500 -pid $!
      # connect p99 of 500 joins per second while 1000 viewers play
  rtmpbench -floor -rtmp-players 1000 -bitrate 2.5M      # the kernel's floor

Sizes accept k, M and G suffixes (powers of 1000): -bitrate 2.5M.

Flags:
`

// bitrateFlag is an int64 flag that accepts k, M and G suffixes.
type bitrateFlag struct{ v *int64 }

func (b bitrateFlag) String() string {
	if b.v == nil {
		return ""
	}
	return strconv.FormatInt(*b.v, 10)
}

func (b bitrateFlag) Set(s string) error {
	v, err := parseRate(s)
	if err != nil {
		return err
	}
	*b.v = v
	return nil
}

// parseRate parses "2500000", "2.5M", "500k", "1G".
func parseRate(s string) (int64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1e9, s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return int64(f * mult), nil
}

// parseFlags builds a Config from the command line.
func parseFlags(args []string, stderr io.Writer) (cfg Config, out outputs, err error) {
	fs := flag.NewFlagSet("rtmpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	cfg = Config{Bitrate: DefaultBitrate, AudioBitrate: DefaultAudioBitrate}
	fs.StringVar(&cfg.URL, "url", "", "RTMP `URL` (rtmp://HOST[:PORT]/APP/STREAM) to publish to and to play with RTMP players (loopback hosts only)")
	fs.StringVar(&cfg.HTTPURL, "http-url", "", "HTTP-FLV play `URL` (http://HOST:PORT/APP/STREAM.flv) for -http-players (loopback hosts only)")
	fs.StringVar(&cfg.WSURL, "ws-url", "", "WebSocket-FLV play `URL` (ws://HOST:PORT/APP/STREAM.flv) for -ws-players; default: -http-url with ws://")
	fs.BoolVar(&cfg.Publish, "publish", true, "publish the stream; false only plays a stream someone else publishes")
	fs.StringVar(&cfg.Input, "input", "", "publish this FLV `file`'s tags, looped with monotonic timestamps, instead of the generated stream (AVC frames with 4-byte NAL lengths get the latency SEI)")
	fs.Float64Var(&cfg.FPS, "fps", DefaultFPS, "generated video frames per second (also the floor's write rate)")
	fs.Var(bitrateFlag{&cfg.Bitrate}, "bitrate", "generated video `bits/s`; the floor sends this plus -audio-bitrate")
	fs.Var(bitrateFlag{&cfg.AudioBitrate}, "audio-bitrate", "generated AAC-like audio `bits/s` in ~21 ms frames (0 = no audio)")
	fs.IntVar(&cfg.GOP, "gop", DefaultGOP, "generated stream: a keyframe (4x an inter frame's size) every this many `frames`")
	fs.BoolVar(&cfg.Fast, "fast", false, "publish as fast as the server takes it instead of in real time")
	fs.IntVar(&cfg.RTMPPlayers, "rtmp-players", 0, "RTMP players playing -url (with -floor: the number of loopback readers)")
	fs.IntVar(&cfg.HTTPPlayers, "http-players", 0, "HTTP-FLV players playing -http-url")
	fs.IntVar(&cfg.WSPlayers, "ws-players", 0, "WebSocket-FLV players playing -ws-url")
	fs.Float64Var(&cfg.Ramp, "ramp", DefaultRamp, "players started per second (<= 0: all at once)")
	fs.IntVar(&cfg.Storm, "storm", 0, "join storm: start this many more RTMP players (playing -url) at -storm-rate per second when the window starts, after the players above connected and -warmup; the window lasts until every storm player connected or failed plus 1s, if longer than -duration. The storm's connect and first-frame times are reported apart; its bytes count in delivered MB/s and CPU-s/GB, while keep-up, stalls, latency and RSS per player stay the other players'")
	fs.Float64Var(&cfg.StormRate, "storm-rate", DefaultStormRate, "storm `players` started per second")
	fs.DurationVar(&cfg.Duration, "duration", DefaultDuration, "length of the measuring window")
	fs.DurationVar(&cfg.Settle, "settle", 0, "wait after the publisher starts, before the server's memory baseline and the players (lets the stream's ring fill so RSS per player counts players only)")
	fs.DurationVar(&cfg.Warmup, "warmup", DefaultWarmup, "wait after all players connected (or failed) before the window starts")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "bound on each connect (TCP, handshake, play or HTTP response) and each command")
	fs.IntVar(&cfg.ReadBuffer, "read-buffer", DefaultReadBuffer, "each player's read buffer in `bytes`")
	fs.DurationVar(&cfg.ReadInterval, "read-interval", 0, "each player reads every `D` (a player on a 20ms render loop: -read-interval 20ms) instead of as soon as data arrives: after its connect it wakes every D, reads everything its socket holds and sleeps again, so the server's bytes wait up to D in the socket (and latency includes that wait); 0 reads at once; at most 1s")
	fs.IntVar(&cfg.PID, "pid", 0, "server process `PID`: CPU time (utime+stime in /proc/PID/stat) over the window and RSS (VmRSS, VmHWM), summed over PID and its descendants (e.g. nginx workers)")
	fs.StringVar(&out.json, "json", "", "also write the report as JSON to this `file`")
	fs.StringVar(&out.tsv, "tsv", "", "also append the headline numbers as one tab-separated line to this `file` (a header line first when the file is new), for scripts such as bench/compare.sh; columns: "+strings.Join(tsvColumns, " "))
	fs.BoolVar(&cfg.Floor, "floor", false, "measure the kernel's floor instead: no RTMP, -rtmp-players loopback TCP readers and one writer thread sending each the same byte rate in one write per frame; reports the writer's CPU-s per delivered GB and the readers' latency at their sockets from the start of each pass")
	fs.DurationVar(&cfg.FloorBatch, "floor-batch", 0, "with -floor: write each reader's data every this `duration` (e.g. 100ms: larger, fewer writes) instead of once per frame")
	fs.IntVar(&cfg.FloorWriterCPU, "floor-writer-cpu", -1, "with -floor: pin the writer thread to this `CPU` (-1: no pinning)")
	fs.Int64Var(&cfg.FloorAckWindow, "floor-ack-window", DefaultFloorAckWindow, "with -floor: each reader sends an RTMP Acknowledgement after every `N` bytes it reads, as an RTMP player does at the window its server announces (rtmpd's default: 2500000); 0: readers never write, as HTTP-FLV players")
	fs.BoolVar(&out.quiet, "q", false, "no progress lines on stderr")
	fs.StringVar(&out.cpuProfile, "cpuprofile", "", "write rtmpbench's own CPU profile to this `file` (to see where the tool spends its core)")
	if err := fs.Parse(args); err != nil {
		return cfg, out, err
	}
	if fs.NArg() > 0 {
		return cfg, out, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.Ramp <= 0 {
		cfg.Ramp = -1
	}
	if cfg.AudioBitrate == 0 {
		cfg.AudioBitrate = -1
	}
	return cfg, out, nil
}

// outputs are the command line's output options.
type outputs struct {
	json, tsv, cpuProfile string
	quiet                 bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "rtmpbench:", err)
		return 2
	}
	if !out.quiet {
		cfg.Log = stderr
	}
	if out.cpuProfile != "" {
		f, err := os.Create(out.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "rtmpbench:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "rtmpbench:", err)
		return 1
	}
	rep.WriteText(stdout)
	if out.json != "" {
		if err := writeFile(out.json, os.O_TRUNC, func(f *os.File) error { return rep.WriteJSON(f) }); err != nil {
			fmt.Fprintln(stderr, "rtmpbench:", err)
			return 1
		}
	}
	if out.tsv != "" {
		err := writeFile(out.tsv, os.O_APPEND, func(f *os.File) error {
			st, err := f.Stat()
			if err != nil {
				return err
			}
			_, err = f.Write(rep.AppendTSV(nil, st.Size() == 0))
			return err
		})
		if err != nil {
			fmt.Fprintln(stderr, "rtmpbench:", err)
			return 1
		}
	}
	return 0
}

// writeFile opens path for writing (created if missing, with mode flag
// O_TRUNC or O_APPEND), calls write and closes it.
func writeFile(path string, mode int, write func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|mode, 0o644)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
