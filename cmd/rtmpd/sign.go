package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/quaverlive/quaver/server"
)

// sign mints a token for an app whose publish or play rules have a
// token_secret: rtmpd sign -secret S -app A -stream NAME [-ttl 1h] [-ip ADDR].
// It prints the token (give it to the client as ?token=...) and returns the
// exit status.
func sign(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rtmpd sign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "the app's token_secret (required)")
	app := fs.String("app", "", "the app (required)")
	stream := fs.String("stream", "", "the stream name, without query (required)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	ip := fs.String("ip", "", "the client address the token is bound to (for token_binds_ip)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *secret == "" || *app == "" || *stream == "" || fs.NArg() > 0 || *ttl <= 0 {
		fmt.Fprintln(stderr, "usage: rtmpd sign -secret SECRET -app APP -stream NAME [-ttl 1h] [-ip ADDR]")
		return 2
	}
	fmt.Fprintln(stdout, server.SignToken(*secret, *app, *stream, time.Now().Add(*ttl), *ip))
	return 0
}
