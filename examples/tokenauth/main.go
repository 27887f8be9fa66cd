// Command tokenauth embeds Quaver with one app, "secure", whose publishers
// and players must all present the token, the way Harmonic's README
// overrides Publish:
//
//	go run ./examples/tokenauth -token s3cret
//	ffmpeg -re -i in.mp4 -c copy -f flv 'rtmp://127.0.0.1/secure/cam1?token=s3cret'   # accepted
//	ffmpeg -re -i in.mp4 -c copy -f flv 'rtmp://127.0.0.1/secure/cam1'                # rejected
//	ffplay 'rtmp://127.0.0.1/secure/cam1?token=s3cret'
//
// Publishing is checked on the event loop; playing is checked off it, as a
// check against a database or another service would be: OnPlay defers the
// decision and answers it from a goroutine (server.Session.Defer). The app
// also registers a custom RPC, "whoami", that answers with the caller's
// address. The server serves no other app.
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

// TokenAuth rejects publishers and players that do not present the shared
// token. It embeds server.BaseHandler to accept every other step.
type TokenAuth struct {
	server.BaseHandler
	Token string
}

// valid reports whether the query carries the token.
func (a TokenAuth) valid(query string) bool {
	q, _ := url.ParseQuery(query)
	return subtle.ConstantTimeCompare([]byte(q.Get("token")), []byte(a.Token)) == 1
}

// OnPublish checks ?token=... on the stream name, on the event loop.
func (a TokenAuth) OnPublish(s *server.Session, req *server.StreamRequest) error {
	if !a.valid(req.Query) {
		s.Logger().Warn("publish refused: bad token", "stream", req.Name)
		return server.Reject("publishing to %s needs a valid token", req.Name)
	}
	return nil
}

// OnPlay decides off the event loop: it defers, checks in a goroutine (here
// the same token; in a real service a lookup that may take a while), and
// answers the decision.
func (a TokenAuth) OnPlay(s *server.Session, req *server.StreamRequest) error {
	d := s.Defer(3 * time.Second)
	query, name := req.Query, req.Name
	go func() {
		if a.valid(query) {
			d.Accept()
			return
		}
		d.Reject("playing " + name + " needs a valid token")
	}()
	return server.ErrPending
}

// NewApp returns the "secure" app with the token checks and the whoami command.
func NewApp(token string) *server.App {
	app := &server.App{Handler: TokenAuth{Token: token}}
	app.HandleCommand("whoami", func(c *server.Call) error {
		return c.Reply(map[string]any{"address": c.Session.RemoteAddr(), "app": c.Session.App()})
	})
	return app
}

func main() {
	addr := flag.String("rtmp", ":1935", "RTMP listen address")
	token := flag.String("token", "", "publish and play token (required)")
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
