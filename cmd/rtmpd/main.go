// Command rtmpd is Quaver's streaming daemon: RTMP ingest and play on a gnet
// event-loop reactor, with a chunk-once fanout and a GOP cache, HTTP-FLV and
// WebSocket-FLV play, recording and playback of recordings.
//
// Settings come from defaults, a YAML config file (-config FILE, with the
// apps and their access rules and HTTP hooks under apps:), environment
// variables RTMPD_<KEY> and flags, each winning over the one before. SIGHUP
// reads the file again and applies the log level and the apps to new
// connections; -version prints the build's version. See contrib/rtmpd.yaml.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "repair" {
		os.Exit(repair(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "sign" {
		os.Exit(sign(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtmpd:", err)
		os.Exit(1)
	}
}

// run is rtmpd with arguments args and environment env: it serves until ctx
// ends, reading the config again on every SIGHUP. ready, when not nil, is
// called once the server listens. It returns at once for -h and -version.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer, ready func(*daemon)) error {
	inv, err := parseCommandLine(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if inv.version {
		readVersion().write(stdout)
		return nil
	}
	// SIGHUP is caught from before the server starts: by default it would
	// end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d, err := startDaemon(inv, env, stderr)
	if err != nil {
		return err
	}
	prev := slog.Default()
	slog.SetDefault(d.log)
	defer slog.SetDefault(prev)
	if ready != nil {
		ready(d)
	}
	for {
		select {
		case <-ctx.Done():
			return d.shutdown(context.Cause(ctx))
		case <-hup:
			_ = d.reload() // logged; the running configuration stays on error
		}
	}
}
