// Command tokenauth embeds Quaver with an app that authorises publishing by a
// token in the stream name, the way Harmonic's README overrides Publish:
//
//	go run ./examples/tokenauth -token s3cret
//	ffmpeg -re -i in.mp4 -c copy -f flv 'rtmp://127.0.0.1/secure/cam1?token=s3cret'   # accepted
//	ffmpeg -re -i in.mp4 -c copy -f flv 'rtmp://127.0.0.1/secure/cam1'                # rejected
//	ffplay rtmp://127.0.0.1/secure/cam1
//
// It also registers a custom RPC, "whoami", that answers with the caller's address.
package main

import (
	"context"
	"crypto/subtle"
	"flag"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/quaverlive/quaver/server"
)

// TokenAuth rejects publishers that do not present the shared token. Players are
// not checked. It embeds server.BaseHandler to accept every other step.
type TokenAuth struct {
	server.BaseHandler
	Token string
}

// OnPublish checks ?token=... on the stream name.
func (a TokenAuth) OnPublish(s *server.Session, req *server.StreamRequest) error {
	q, _ := url.ParseQuery(req.Query)
	if subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(a.Token)) != 1 {
		s.Logger().Warn("publish refused: bad token", "stream", req.Name)
		return server.Reject("publishing to %s needs a valid token", req.Name)
	}
	return nil
}

// NewApp returns the "secure" app with the token check and the whoami command.
func NewApp(token string) *server.App {
	app := &server.App{Handler: TokenAuth{Token: token}}
	app.HandleCommand("whoami", func(c *server.Call) error {
		return c.Reply(map[string]any{"address": c.Session.RemoteAddr(), "app": c.Session.App()})
	})
	return app
}

func main() {
	addr := flag.String("rtmp", ":1935", "RTMP listen address")
	token := flag.String("token", "", "publish token (required)")
	flag.Parse()
	if *token == "" {
		slog.Error("-token is required")
		os.Exit(2)
	}
	srv := server.New(server.Config{RTMPAddr: *addr})
	srv.Handle("secure", NewApp(*token))
	if err := srv.Start(); err != nil {
		slog.Error("start", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}
