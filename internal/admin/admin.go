// Package admin is the operator's HTTP API of a Quaver server: JSON under
// /api/v1/ (streams, clients, kicks, recordings, reload, the effective
// configuration), Prometheus metrics at /metrics, /healthz and the Go
// profiler at /debug/pprof/, on a listener of its own built on net/http,
// apart from the public port.
//
// The package knows nothing of the server's internals: the server hands it a
// Backend. Every Backend method is called from net/http's goroutines and must
// be safe from any goroutine and must not block on an event loop.
//
// With a token set, every request needs "Authorization: Bearer TOKEN"
// (RFC 6750 section 2.1); the comparison takes constant time. Errors are JSON
// objects {"error": "..."} with the status that says what went wrong.
package admin

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/quaverlive/quaver/internal/mediainfo"
)

// Sentinel errors a Backend wraps so the API answers with the right status.
var (
	ErrNotFound       = errors.New("admin: not found")             // 404
	ErrConflict       = errors.New("admin: conflict")              // 409
	ErrNotImplemented = errors.New("admin: not implemented")       // 501
	ErrUnauthorized   = errors.New("admin: bearer token required") // 401
)

// Stream is one stream as GET /api/v1/streams shows it.
type Stream struct {
	App        string     `json:"app"`
	Name       string     `json:"name"`
	Publishing bool       `json:"publishing"`
	Publisher  *Publisher `json:"publisher,omitempty"`
	mediainfo.Info
	// BitrateInKbps is the publisher's average inbound bitrate since its
	// publish started (RTMP bytes, chunk headers included).
	BitrateInKbps int64 `json:"bitrate_in_kbps"`
	// UptimeSeconds is how long the current publish has lasted.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Viewers counts live players by protocol ("rtmp", "http", "ws").
	Viewers     map[string]int `json:"viewers"`
	Subscribers int            `json:"subscribers"` // fanout subscribers (players and a recording)
	Recording   bool           `json:"recording"`
}

// Publisher identifies a stream's publisher.
type Publisher struct {
	ClientID uint64 `json:"client_id"`
	Peer     string `json:"peer"`
}

// Client is one open connection as GET /api/v1/clients shows it. Bytes sent
// to a client are not counted per connection (the fanout's writes are
// shared by every viewer and the transport counts none), so there is no
// bytes_out.
type Client struct {
	ID       uint64    `json:"id"`
	App      string    `json:"app,omitempty"`
	Stream   string    `json:"stream,omitempty"`
	Role     string    `json:"role,omitempty"` // "publisher", "player" or "" (connected only)
	Protocol string    `json:"protocol"`       // "rtmp", "http" or "ws"
	Peer     string    `json:"peer"`
	Since    time.Time `json:"since"` // when the connection was accepted
	BytesIn  uint64    `json:"bytes_in"`
	BytesOut uint64    `json:"bytes_out"`
}

// Backend is what the API reads and acts on. Every method is safe from any
// goroutine.
type Backend interface {
	Streams() []Stream
	Clients() []Client
	// Kick closes the connection with id; ErrNotFound when none is open.
	Kick(id uint64) error
	// StartRecording and StopRecording act on app/name asynchronously;
	// ErrNotFound (not published, not recorded) or ErrConflict (already
	// recorded) wrapped in the error.
	StartRecording(app, name string) error
	StopRecording(app, name string) error
	// Recordings lists the finished and running recordings (JSON-encodable).
	Recordings() any
	// Reload re-reads the embedder's configuration; ErrNotImplemented when
	// the embedder set none.
	Reload() error
	// Config is the effective configuration with its secrets redacted
	// (JSON-encodable; see Redact).
	Config() any
	// Relays lists the pulls from origins and pushes to targets
	// (JSON-encodable).
	Relays() any
}

// Options configure the handler.
type Options struct {
	// Token, when not empty, is required as a bearer token on every request.
	Token string
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
}

// New returns the admin API's handler (safe for concurrent use).
func New(b Backend, opts Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/streams", only("GET", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Streams())
	}))
	mux.HandleFunc("/api/v1/clients", only("GET", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Clients())
	}))
	mux.HandleFunc("/api/v1/clients/{id}", only("DELETE", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil {
			writeError(w, http.StatusNotFound, fmt.Errorf("%w: no client %q", ErrNotFound, r.PathValue("id")))
			return
		}
		if err := b.Kick(id); err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"kicked": id})
	}))
	mux.HandleFunc("/api/v1/streams/{app}/{stream}/recording", only("POST DELETE", func(w http.ResponseWriter, r *http.Request) {
		app, name := r.PathValue("app"), r.PathValue("stream")
		start := r.Method == http.MethodPost
		var err error
		if start {
			err = b.StartRecording(app, name)
		} else {
			err = b.StopRecording(app, name)
		}
		if err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		// Both act in the background: the recording attaches on the
		// publisher's loop, a stopped file is finished by its writer.
		writeJSON(w, http.StatusAccepted, map[string]any{"app": app, "stream": name, "recording": start})
	}))
	mux.HandleFunc("/api/v1/relays", only("GET", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Relays())
	}))
	mux.HandleFunc("/api/v1/recordings", only("GET", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Recordings())
	}))
	mux.HandleFunc("/api/v1/reload", only("POST", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Reload(); err != nil {
			writeError(w, statusOf(err), err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"reloaded": true})
	}))
	mux.HandleFunc("/api/v1/config", only("GET", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Config())
	}))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %s", ErrNotFound, r.URL.Path))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	if opts.Metrics != nil {
		mux.Handle("/metrics", opts.Metrics)
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if opts.Token == "" {
		return mux
	}
	want := []byte("Bearer " + opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="quaver admin"`)
			writeError(w, http.StatusUnauthorized, ErrUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// only restricts h to the space-separated methods, answering others with a
// JSON 405.
func only(methods string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range strings.Fields(methods) {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", methods)
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("admin: method %s not allowed (allowed: %s)", r.Method, methods))
	}
}

// statusOf maps a Backend error to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrNotImplemented):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "admin: encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
