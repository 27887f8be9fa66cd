package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Defaults and limits of the load generator.
const (
	DefaultFPS          = 30
	DefaultBitrate      = 2_500_000
	DefaultAudioBitrate = 128_000
	DefaultGOP          = 60
	DefaultRamp         = 200
	DefaultDuration     = 20 * time.Second
	DefaultWarmup       = 3 * time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultReadBuffer   = 16 << 10
	// DefaultFloorAckWindow is -floor-ack-window: the acknowledgement
	// window rtmpd announces by default, so the floor's readers answer as
	// often as RTMP players of rtmpd do.
	DefaultFloorAckWindow = 2_500_000
	// MaxFloorAckWindow caps -floor-ack-window (RTMP's window is 32 bits).
	MaxFloorAckWindow = 1 << 31

	// MaxPlayers caps the players of one run (all kinds together).
	MaxPlayers = 100_000
	// MaxDuration caps -duration, -warmup and -settle.
	MaxDuration = time.Hour
	// MaxFPS and MaxBitrate cap the generated stream.
	MaxFPS     = 240
	MaxBitrate = 1_000_000_000
	// MinBitrate is the lowest video bitrate accepted.
	MinBitrate = 8_000
	// MaxGOP caps -gop.
	MaxGOP = 10_000
	// stopTimeout bounds the wait for players and the publisher to stop
	// after the window.
	stopTimeout = 10 * time.Second
	// resolveTimeout bounds the host name lookup of the loopback check.
	resolveTimeout = 5 * time.Second
)

// Config is one load run. Zero numeric fields take the defaults above (Publish
// has no default: the command line sets it to true unless -publish=false).
type Config struct {
	// URL is the RTMP URL, rtmp://HOST[:PORT]/APP/STREAM, to publish to and
	// to play from with RTMP players.
	URL string
	// HTTPURL is the HTTP-FLV play URL (http://HOST[:PORT]/APP/STREAM.flv),
	// needed for HTTP players.
	HTTPURL string
	// WSURL is the WebSocket-FLV play URL (ws://...); when empty it is
	// derived from HTTPURL.
	WSURL string
	// Publish runs the publisher; false plays a stream published by someone else.
	Publish bool
	// Input is an FLV file to publish (looped) instead of the generated stream.
	Input string
	// FPS, Bitrate (video bits/s), AudioBitrate (bits/s; negative for no
	// audio) and GOP (frames per keyframe) shape the generated stream, and
	// the byte rate of the floor mode.
	FPS          float64
	Bitrate      int64
	AudioBitrate int64
	GOP          int
	// Fast publishes as fast as the server takes it instead of in real time.
	Fast bool
	// RTMPPlayers, HTTPPlayers and WSPlayers are the players of each kind.
	RTMPPlayers, HTTPPlayers, WSPlayers int
	// Storm is the number of RTMP players of the join storm: started during
	// the measuring window at StormRate per second (0: no storm).
	Storm     int
	StormRate float64
	// Ramp is how many players are started per second (negative: all at once).
	Ramp float64
	// Warmup runs after every player connected (or failed) and before the
	// measuring window of length Duration.
	Warmup, Duration time.Duration
	// Settle waits after the publisher starts and before the server's
	// "before" memory sample and the first player, so the stream's ring
	// fills and is not counted as the players' memory (0: no wait).
	Settle time.Duration
	// Timeout bounds each connect (handshake and play) and each command.
	Timeout time.Duration
	// ReadBuffer is each player's read buffer size in bytes.
	ReadBuffer int
	// ReadInterval, when positive, makes each player read every
	// ReadInterval (everything its socket holds, then sleep until the next
	// tick) instead of as soon as data arrives; see pace.go.
	ReadInterval time.Duration
	// PID is the server process whose CPU time and memory are sampled, with
	// its descendants (0: none).
	PID int
	// Floor runs the kernel floor measurement instead of an RTMP run.
	Floor bool
	// FloorBatch, in floor mode, writes each reader's data every FloorBatch
	// instead of once per frame.
	FloorBatch time.Duration
	// FloorWriterCPU pins the floor writer's thread to this CPU (negative: no pinning).
	FloorWriterCPU int
	// FloorAckWindow, in floor mode, makes each reader send an RTMP
	// Acknowledgement after every FloorAckWindow bytes it reads, as an RTMP
	// player does at the window its server announces. 0: the readers never
	// write (as HTTP-FLV players).
	FloorAckWindow int64
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// withDefaults returns c with zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.Bitrate == 0 {
		c.Bitrate = DefaultBitrate
	}
	if c.AudioBitrate == 0 {
		c.AudioBitrate = DefaultAudioBitrate
	}
	if c.AudioBitrate < 0 {
		c.AudioBitrate = 0
	}
	if c.GOP == 0 {
		c.GOP = DefaultGOP
	}
	if c.Ramp == 0 {
		c.Ramp = DefaultRamp
	}
	if c.StormRate == 0 {
		c.StormRate = DefaultStormRate
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultReadBuffer
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.WSURL == "" && c.HTTPURL != "" {
		if u, err := url.Parse(c.HTTPURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
			c.WSURL = u.String()
		}
	}
	return c
}

// totalPlayers is the number of players of all kinds.
func (c Config) totalPlayers() int { return c.RTMPPlayers + c.HTTPPlayers + c.WSPlayers }

// validate checks ranges and that every target is on this machine.
func (c Config) validate(ctx context.Context) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.FPS < 1 || c.FPS > MaxFPS {
		bad("-fps %v: want 1..%d", c.FPS, MaxFPS)
	}
	if c.Bitrate < MinBitrate || c.Bitrate > MaxBitrate {
		bad("-bitrate %d: want %d..%d", c.Bitrate, MinBitrate, MaxBitrate)
	}
	if c.AudioBitrate > MaxBitrate {
		bad("-audio-bitrate %d: want at most %d", c.AudioBitrate, MaxBitrate)
	}
	if c.GOP < 1 || c.GOP > MaxGOP {
		bad("-gop %d: want 1..%d", c.GOP, MaxGOP)
	}
	if c.RTMPPlayers < 0 || c.HTTPPlayers < 0 || c.WSPlayers < 0 || c.Storm < 0 || c.totalPlayers()+c.Storm > MaxPlayers {
		bad("players: want 0..%d in all (with -storm)", MaxPlayers)
	}
	if c.StormRate <= 0 || c.StormRate > MaxStormRate {
		bad("-storm-rate %v: want above 0, at most %d", c.StormRate, MaxStormRate)
	}
	if c.Duration < 0 || c.Duration > MaxDuration || c.Warmup < 0 || c.Warmup > MaxDuration || c.Settle < 0 || c.Settle > MaxDuration {
		bad("-duration, -warmup and -settle: want 0..%v", MaxDuration)
	}
	if c.Timeout < 0 || c.Timeout > MaxDuration {
		bad("-timeout: want 0..%v", MaxDuration)
	}
	if c.ReadBuffer < 4<<10 || c.ReadBuffer > 16<<20 {
		bad("-read-buffer %d: want 4096..16 MiB", c.ReadBuffer)
	}
	if c.ReadInterval < 0 || c.ReadInterval > MaxReadInterval {
		bad("-read-interval %v: want 0..%v", c.ReadInterval, MaxReadInterval)
	}
	if c.FloorBatch < 0 || c.FloorBatch > 10*time.Second {
		bad("-floor-batch %v: want 0..10s", c.FloorBatch)
	}
	if c.FloorAckWindow < 0 || c.FloorAckWindow > MaxFloorAckWindow {
		bad("-floor-ack-window %d: want 0..%d", c.FloorAckWindow, MaxFloorAckWindow)
	}
	if c.Floor {
		if c.totalPlayers() == 0 {
			bad("-floor needs readers: set -rtmp-players")
		}
		if c.Storm > 0 || c.ReadInterval > 0 {
			bad("-storm and -read-interval do not apply to -floor")
		}
		return errors.Join(errs...)
	}
	if !c.Publish && c.totalPlayers() == 0 {
		bad("nothing to do: -publish=false and no players")
	}
	if c.URL == "" && (c.Publish || c.RTMPPlayers > 0 || c.Storm > 0) {
		bad("-url is required to publish or to play over RTMP (-storm players play it)")
	}
	if c.HTTPPlayers > 0 && c.HTTPURL == "" {
		bad("-http-players needs -http-url")
	}
	if c.WSPlayers > 0 && c.WSURL == "" {
		bad("-ws-players needs -ws-url or -http-url")
	}
	for _, u := range []struct{ flag, url string }{{"-url", c.URL}, {"-http-url", c.HTTPURL}, {"-ws-url", c.WSURL}} {
		if u.url == "" {
			continue
		}
		if err := checkLoopbackURL(ctx, u.url); err != nil {
			bad("%s: %w", u.flag, err)
		}
	}
	return errors.Join(errs...)
}

// errNotLoopback reports a target outside this machine.
var errNotLoopback = errors.New("rtmpbench: only loopback targets (127.0.0.0/8, ::1) are allowed")

// checkLoopbackURL resolves the host of rawURL and fails unless every
// address it resolves to is a loopback address.
func checkLoopbackURL(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%q has no host", rawURL)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !isLoopback(ip) {
			return fmt.Errorf("%w: %s", errNotLoopback, host)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%s resolves to no address", host)
	}
	for _, a := range addrs {
		if !isLoopback(a) {
			return fmt.Errorf("%w: %s resolves to %s", errNotLoopback, host, a)
		}
	}
	return nil
}

// isLoopback reports whether a is in 127.0.0.0/8 or is ::1 (IPv4-mapped
// loopback counts too).
func isLoopback(a netip.Addr) bool {
	a = a.Unmap()
	return (a.Is4() && a.As4()[0] == 127) || a == netip.IPv6Loopback()
}

// loopbackDialer returns a dialer that refuses, at connect time, any address
// that is not loopback: a second guard behind checkLoopbackURL in case a
// name resolves differently when dialled.
func loopbackDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: timeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if !isLoopback(ap.Addr()) {
				return fmt.Errorf("%w: %s", errNotLoopback, address)
			}
			return nil
		},
	}
}

// dialFunc opens a connection, as net.Dialer.DialContext does.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// wrapDial returns dial with each connection passed through wrap; a
// connection that wrap refuses is closed.
func wrapDial(dial dialFunc, wrap func(net.Conn) (net.Conn, error)) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w, err := wrap(c)
		if err != nil {
			c.Close()
			return nil, err
		}
		return w, nil
	}
}
