package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct{ kicked []uint64 }

func (f *fakeBackend) Streams() []Stream { return []Stream{{App: "live", Name: "a"}} }
func (f *fakeBackend) Clients() []Client { return []Client{{ID: 7, Protocol: "rtmp"}} }
func (f *fakeBackend) Relays() any       { return []string{} }
func (f *fakeBackend) Kick(id uint64) error {
	if id != 7 {
		return fmt.Errorf("%w: no client %d", ErrNotFound, id)
	}
	f.kicked = append(f.kicked, id)
	return nil
}
func (f *fakeBackend) StartRecording(app, name string) error {
	if name == "busy" {
		return fmt.Errorf("%w: recording", ErrConflict)
	}
	return nil
}
func (f *fakeBackend) StopRecording(app, name string) error {
	return fmt.Errorf("%w: %s/%s is not being recorded", ErrNotFound, app, name)
}
func (f *fakeBackend) Recordings() any { return []string{} }
func (f *fakeBackend) Reload() error   { return ErrNotImplemented }
func (f *fakeBackend) Config() any     { return map[string]any{} }

func do(h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRoutes(t *testing.T) {
	fb := &fakeBackend{}
	h := New(fb, Options{})
	for _, c := range []struct {
		method, path string
		code         int
		json         bool
	}{
		{"GET", "/api/v1/streams", 200, true},
		{"POST", "/api/v1/streams", 405, true},
		{"GET", "/api/v1/clients", 200, true},
		{"DELETE", "/api/v1/clients/7", 200, true},
		{"DELETE", "/api/v1/clients/8", 404, true},
		{"DELETE", "/api/v1/clients/x", 404, true},
		{"POST", "/api/v1/streams/live/a/recording", 202, true},
		{"POST", "/api/v1/streams/live/busy/recording", 409, true},
		{"DELETE", "/api/v1/streams/live/a/recording", 404, true},
		{"GET", "/api/v1/streams/live/a/recording", 405, true},
		{"GET", "/api/v1/recordings", 200, true},
		{"POST", "/api/v1/reload", 501, true},
		{"GET", "/api/v1/config", 200, true},
		{"GET", "/api/v1/nothing", 404, true},
		{"GET", "/healthz", 200, false},
		{"GET", "/debug/pprof/", 200, false},
	} {
		w := do(h, c.method, c.path, "")
		if w.Code != c.code {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, c.code, w.Body)
		}
		if c.json {
			var v any
			if ct := w.Header().Get("Content-Type"); ct != "application/json" || json.Unmarshal(w.Body.Bytes(), &v) != nil {
				t.Errorf("%s %s: not JSON (%s): %s", c.method, c.path, ct, w.Body)
			}
			if m, ok := v.(map[string]any); c.code >= 400 && (!ok || m["error"] == nil) {
				t.Errorf("%s %s: no error field: %s", c.method, c.path, w.Body)
			}
		}
	}
	if len(fb.kicked) != 1 {
		t.Errorf("kicked %v", fb.kicked)
	}
}

func TestToken(t *testing.T) {
	h := New(&fakeBackend{}, Options{Token: "s3cret"})
	for _, p := range []string{"/api/v1/streams", "/healthz", "/debug/pprof/", "/metrics"} {
		if w := do(h, "GET", p, ""); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s without token: %d", p, w.Code)
		}
		if w := do(h, "GET", p, "wrong"); w.Code != 401 {
			t.Errorf("%s with a wrong token: %d", p, w.Code)
		}
	}
	if w := do(h, "GET", "/api/v1/streams", "s3cret"); w.Code != 200 {
		t.Errorf("with token: %d", w.Code)
	}
}

type handler interface{ Name() string }
type secretHandler struct{ Token string }

func (secretHandler) Name() string { return "h" }

func TestRedact(t *testing.T) {
	type inner struct {
		TokenSecret string
		Keys        []string
		Open        string
		Hook        string
	}
	type cfg struct {
		Addr       string
		AdminToken string
		Empty      string
		Timeout    time.Duration
		Reload     func() error
		Apps       map[string]*inner
		Handler    handler
		Nil        *inner
		hidden     string
	}
	c := cfg{Addr: ":1", AdminToken: "tok", Timeout: time.Second, Reload: func() error { return nil },
		Apps:    map[string]*inner{"live": {TokenSecret: "app-secret", Keys: []string{"k1"}, Open: "o", Hook: "https://user:hookpass@hooks.example/on?sig=hooksig"}},
		Handler: secretHandler{Token: "handler-secret"}, hidden: "h"}
	b, err := json.Marshal(Redact(&c, map[string]bool{"AdminToken": true, "TokenSecret": true, "Keys": true, "Empty": true}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, secret := range []string{"tok", "app-secret", "k1", "hookpass", "hooksig", "handler-secret", `"hidden"`, "Reload"} {
		if strings.Contains(s, secret) {
			t.Errorf("output has %q: %s", secret, s)
		}
	}
	for _, want := range []string{`"Addr":":1"`, `"Timeout":"1s"`, `"Open":"o"`, `"AdminToken":"[redacted]"`, `"Handler":"admin.secretHandler"`} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %s: %s", want, s)
		}
	}
	if strings.Contains(s, "Empty") {
		t.Errorf("an unset secret is listed: %s", s)
	}
}
