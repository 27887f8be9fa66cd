package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quaverlive/quaver/internal/engine"
)

// MaxHookCalls caps the HTTP hook calls in flight per server: past it, a
// step that needs a hook's answer is refused ("busy") and a notification is
// dropped (and logged), so a flood of clients cannot pile up goroutines and
// sockets behind a slow hook target.
const MaxHookCalls = 256

// maxHookBody caps what is read of a hook's response.
const maxHookBody = 4 << 10

// hookCaller makes a server's HTTP hook calls, each on a goroutine the
// server owns (Shutdown cancels them and waits).
type hookCaller struct {
	// latency observes each call by event and outcome (allow, refuse,
	// error) for /metrics.
	latency *prometheus.HistogramVec
	client  *http.Client
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
}

func newHookCaller(log *slog.Logger) *hookCaller {
	c := &hookCaller{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quaver_hook_duration_seconds",
			Help:    "HTTP hook calls by event and outcome (allow, refuse, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"event", "outcome"}),
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		log:    log,
		slots:  make(chan struct{}, MaxHookCalls),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// stop cancels the calls in flight and waits for their goroutines.
func (c *hookCaller) stop() {
	c.cancel()
	c.wg.Wait()
}

// start runs fn on an owned goroutine, or reports false when MaxHookCalls
// are in flight. Any goroutine.
func (c *hookCaller) start(fn func()) bool {
	select {
	case c.slots <- struct{}{}:
	default:
		return false
	}
	c.wg.Add(1)
	go func() {
		defer func() { <-c.slots; c.wg.Done() }()
		fn()
	}()
	return true
}

// decideThen posts ev to url and answers d with the outcome: a 2xx accepts
// (a JSON body {"name": "..."} renames, else rename, the application's own,
// stands), anything else refuses with the body's first line, no answer in
// time refuses; on acceptance, then (when set) decides instead of
// accepting at once. Any goroutine; never blocks.
func (c *hookCaller) decideThen(url string, timeout time.Duration, ev HookEvent, d *engine.Decision, rename string, then func(d *engine.Decision, rename string)) {
	if !c.start(func() {
		r, err := c.call(url, timeout, ev)
		if r == "" {
			r = rename
		}
		if err == nil && then != nil {
			then(d, r)
			return
		}
		d.Resolve(err, r)
	}) {
		d.Resolve(&RejectError{Reason: "server busy, try again"}, "")
	}
}

// notify posts ev to url; the answer is ignored. Any goroutine; never blocks.
func (c *hookCaller) notify(url string, timeout time.Duration, ev HookEvent) {
	if !c.start(func() {
		if _, err := c.call(url, timeout, ev); err != nil {
			c.log.Warn("hook failed", "event", ev.Event, "url", url, "err", err)
		}
	}) {
		c.log.Warn("hook dropped: too many calls in flight", "event", ev.Event, "url", url)
	}
}

// call posts ev and interprets the answer.
func (c *hookCaller) call(url string, timeout time.Duration, ev HookEvent) (rename string, err error) {
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(ev)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", &RejectError{Reason: "hook misconfigured"}
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	outcome := "error"
	defer func() { c.latency.WithLabelValues(ev.Event, outcome).Observe(time.Since(start).Seconds()) }()
	resp, err := c.client.Do(req)
	if err != nil {
		c.log.Warn("hook unanswered", "event", ev.Event, "url", url, "err", err, "after", time.Since(start).Round(time.Millisecond))
		return "", &RejectError{Reason: "authorization unavailable"}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxHookBody))
	if resp.StatusCode/100 != 2 {
		outcome = "refuse"
		line, _, _ := bufio.NewReader(bytes.NewReader(b)).ReadLine()
		reason := strings.TrimSpace(string(line))
		if reason == "" {
			reason = fmt.Sprintf("refused (%d)", resp.StatusCode)
		}
		return "", &RejectError{Reason: reason}
	}
	outcome = "allow"
	var answer struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(b, &answer) == nil {
		rename = answer.Name
	}
	return rename, nil
}
