package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/quaverlive/quaver/server"
	"github.com/quaverlive/quaver/web"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// Time bounds. They only stop a stuck test; nothing asserts how fast anything is.
const (
	testTimeout    = 3 * time.Minute  // a whole test function, browser and publisher included
	publishTimeout = 20 * time.Second // ffmpeg connected and publishing
	playTimeout    = 25 * time.Second // page opened to 3 s of played video
	errorTimeout   = 10 * time.Second // page opened to an error shown
	pollInterval   = 250 * time.Millisecond
)

// inCI reports whether the tests run in CI, where the browser is installed and
// its absence is a failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// needChromium skips (fails in CI) when the browser is not installed.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if inCI() {
			t.Fatalf("CI=true but %s is missing (.ci/deps.sh installs the chromium package): %v", chromiumPath, err)
		}
		t.Skipf("%s not installed (apt-get install chromium)", chromiumPath)
	}
}

// needFFmpeg skips when ffmpeg is not installed and returns its path.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	return p
}

// webDir is the repository's web directory, found from this file's location.
func webDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "..", "web")
}

// needPlayerLibs skips (fails in CI) when `make web` has not installed the
// player libraries into dir/node_modules.
func needPlayerLibs(t *testing.T, dir string) {
	t.Helper()
	for _, rel := range web.Libraries {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", rel)); err != nil {
			if inCI() {
				t.Fatalf("CI=true but player library %s is missing: `make web` should have installed it", rel)
			}
			t.Skipf("player library %s missing: run `make web`", rel)
		}
	}
}

// lockedBuffer collects output written from other goroutines (server logs,
// ffmpeg, the browser) so the test goroutine can log it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer starts a server on OS-chosen loopback ports serving the player
// libraries from dir, and shuts it down when the test ends. Its log is printed
// if the test fails.
func startServer(t *testing.T, dir string) *server.Server {
	return startServerWith(t, dir, nil)
}

// startServerWith is startServer with a hook to adjust the configuration.
func startServerWith(t *testing.T, dir string, adjust func(*server.Config)) *server.Server {
	t.Helper()
	logs := &lockedBuffer{}
	cfg := server.Config{
		RTMPAddr: "127.0.0.1:0",
		HTTPAddr: "127.0.0.1:0",
		WebDir:   dir,
		Loops:    2,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv := server.New(cfg)
	srv.Handle("live", &server.App{})
	srv.Handle("record", &server.App{Record: true, VOD: true})
	if err := srv.Start(); err != nil {
		t.Fatalf("server start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return srv
}

// publish streams generated 640x360 H.264 + AAC to rtmp://<server>/live/<name>
// with ffmpeg in real time until the test ends, and returns once the server
// lists the stream as publishing.
func publish(t *testing.T, ctx context.Context, srv *server.Server, name string) {
	t.Helper()
	ffmpeg := needFFmpeg(t)
	ctx, cancel := context.WithCancel(ctx)
	out := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "aac",
		"-f", "flv", "rtmp://"+srv.RTMPAddr()+"/live/"+name)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start ffmpeg: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() && out.String() != "" {
			t.Logf("ffmpeg output:\n%s", out)
		}
	})

	deadline := time.Now().Add(publishTimeout)
	for {
		for _, s := range srv.Streams() {
			if s.App == "live" && s.Name == name && s.Publishing {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("ffmpeg exited before publishing: %v\n%s", err, out)
		case <-ctx.Done():
			t.Fatalf("publishing live/%s: %v", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("live/%s not publishing after %v\nffmpeg: %s", name, publishTimeout, out)
		}
	}
}

// newBrowser starts headless Chromium with a fresh profile, bounded by ctx,
// and closes it when the test ends. Tabs come from chromedp.NewContext on the
// returned context.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	needChromium(t)
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	output := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // containers and CI runners as root have no usable sandbox
		chromedp.DisableGPU,
		chromedp.WindowSize(1000, 820),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Nothing leaves the machine: no QUIC, no updaters, no sync, no
		// background fetches, and every host name but localhost fails to resolve.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,MediaRouter,OptimizationHints,"+
			"AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(output),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the process to exit
		if t.Failed() && output.String() != "" {
			t.Logf("chromium output:\n%s", output)
		}
	})
	if err := chromedp.Do(bctx); err != nil { // start the browser now, not in the first subtest
		t.Fatalf("start chromium: %v\n%s", err, output)
	}
	return bctx
}

// tab is one browser tab with its console recorded.
type tab struct {
	ctx context.Context
	mu  sync.Mutex
	log []string
}

// newTab opens a tab in the browser of bctx and closes it when the test ends;
// the tab's console is logged then.
func newTab(t *testing.T, bctx context.Context) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	tb := &tab{ctx: ctx}
	done := make(chan struct{})
	messages := chromedp.Console(ctx) // subscribes now, so nothing from the page is missed
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.log = append(tb.log, m.String())
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if len(tb.log) > 0 {
			t.Logf("page console:\n  %s", strings.Join(tb.log, "\n  "))
		}
	})
	return tb
}

// open navigates the tab to the player page on srv with the query.
func (tb *tab) open(t *testing.T, srv *server.Server, query string) {
	t.Helper()
	u := "http://" + srv.HTTPAddr() + "/" + query
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
}

// pageState is what the player page exposes (window.quaver) plus the video
// element and the visible status and error text.
type pageState struct {
	State     string   `json:"state"`
	Error     *string  `json:"error"`
	Errors    []string `json:"errors"`
	URL       string   `json:"url"`
	Mode      string   `json:"mode"`      // "live" or "vod" (a recording), "" before a play starts
	StartTime float64  `json:"startTime"` // media time when the play first played, -1 before
	Width     int      `json:"w"`
	Height    int      `json:"h"`
	Time      float64  `json:"t"`
	Duration  float64  `json:"d"` // the video's duration; 0 when not finite (live)
	Status    string   `json:"status"`
	ErrText   string   `json:"errText"`
	URLText   string   `json:"urlText"`
	List      string   `json:"list"` // the live streams list
	Recs      string   `json:"recs"` // the recordings list
}

const stateJS = `(() => {
	const q = window.quaver || {}, v = document.getElementById('v'), txt = (id) => document.getElementById(id).textContent;
	return {state: q.state || '', error: q.error === undefined ? null : q.error, errors: q.errors || [], url: q.url || '',
		mode: q.mode || '', startTime: q.startTime === undefined ? -1 : q.startTime,
		w: v.videoWidth, h: v.videoHeight, t: v.currentTime, d: isFinite(v.duration) ? v.duration : 0,
		status: txt('status'), errText: txt('err'), urlText: txt('url'), list: txt('list'), recs: txt('recs')};
})()`

func (s pageState) String() string {
	e := "null"
	if s.Error != nil {
		e = fmt.Sprintf("%q", *s.Error)
	}
	return fmt.Sprintf("state=%s mode=%s error=%s errors=%q video=%dx%d t=%.2f (from %.2f) of %.2f status=%q url=%s",
		s.State, s.Mode, e, s.Errors, s.Width, s.Height, s.Time, s.StartTime, s.Duration, s.Status, s.URL)
}

// state reads the page state.
func (tb *tab) state(t *testing.T) pageState {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](stateJS))
	if err != nil {
		t.Fatalf("read page state: %v", err)
	}
	return st
}

// eval runs a script in the page for its effect.
func (tb *tab) eval(t *testing.T, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](js)); err != nil {
		t.Fatalf("eval %s: %v", js, err)
	}
}

// waitFor polls the page state until done reports true, and fails the test
// after timeout with the last state.
func (tb *tab) waitFor(t *testing.T, timeout time.Duration, what string, done func(pageState) bool) pageState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := tb.state(t)
		if done(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; page: %v", what, timeout, st)
		}
		select {
		case <-tb.ctx.Done():
			t.Fatalf("%s: %v", what, tb.ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// screenshot captures the tab into the test's temporary directory (and into
// $BROWSERTEST_SCREENSHOTS when set) and logs where.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("BROWSERTEST_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
			continue
		}
		t.Logf("screenshot: %s", p)
	}
}

// lockedBuffer is an io.Writer for loggers and child processes.
var _ io.Writer = (*lockedBuffer)(nil)
