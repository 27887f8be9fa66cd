// Package recorder writes live streams to FLV files that are playable at every
// moment, and finds recordings again for playback (VOD).
//
// A Recording is a fanout subscriber in FLV form. Its Writev, called on an event
// loop, only copies into a bounded queue (no allocation in steady state, no disk
// I/O); a writer goroutine parses the tags and writes whole tags to the file,
// pushing them to the kernel at every keyframe and at least every FlushInterval,
// so a kill -9 loses at most that interval and never leaves a torn tag behind the
// last write.
//
// File layout: the FLV header, then an onMetaData tag of a reserved, fixed size,
// then the stream's tags with timestamps from 0. When the recording ends the
// metadata is rewritten in place with the duration, file size, dimensions, codecs
// and a keyframe index (times and file positions) so players can seek. While
// recording, the metadata says quaverComplete=false; Repair (run for every such
// file at startup, or by `rtmpd repair FILE`) rebuilds the metadata from the tags
// after a crash and cuts a torn tail.
//
// The Manager keeps an index of the record directory in memory (Open builds it
// with one walk; recordings update it as they start, finish, rotate and are
// repaired), so List, Find and Lookup answer without disk I/O from any
// goroutine, event loops included. Recordings are opened for playback with
// OpenRecording, through an os.Root: no name and no symbolic link leads out of
// the record directory, and links are not recordings; OpenFile then reads the
// file's head (FLV header, metadata, sequence headers) and hands out its tags
// (File.Tags) and keyframes (File.KeyframeAt) to the goroutine that plays it.
//
// Timestamps in a file start at 0 at its first keyframe and follow the stream's
// with serial arithmetic (flvmux.Timeline), so a recording keeps increasing
// timestamps through the 2^31 ms point of the source; like every FLV file, its
// own timestamps wrap after 2^32 ms (49.7 days): rotate before that.
package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Manager. Zero fields take the defaults.
type Config struct {
	// Dir is the record directory (default "./record"). Recordings never leave it.
	Dir string
	// Template names files inside Dir: {app}, {stream}, {time} (UTC
	// 20060102-150405), {date} (20060102) and {unix} are replaced. The default is
	// "{app}/{stream}-{time}.flv". An existing file is never overwritten: a
	// suffix -1, -2, ... is added.
	Template string
	// FlushInterval bounds how long written tags may wait in memory (default 1s).
	FlushInterval time.Duration
	// MaxQueueBytes bounds the queue between the event loop and the writer. A
	// disk that falls this far behind stops the recording with ErrDiskTooSlow;
	// the live stream is untouched (default 32 MiB).
	MaxQueueBytes int
	// IndexCapacity is the number of keyframes the metadata reserves room for;
	// longer recordings get a thinned index (default 3600).
	IndexCapacity int
	// RotateDuration and RotateSize start a new file at the next keyframe once a
	// file is this long or this large (0: never).
	RotateDuration time.Duration
	RotateSize     int64
	// Logger receives recording events (default slog.Default()).
	Logger *slog.Logger
	// OnFinish, when set, is called with each file's final description once
	// it is closed (after a rotation too), on the recording's writer
	// goroutine; it must not block for long.
	OnFinish func(Info)
}

// Defaults.
const (
	DefaultDir           = "./record"
	DefaultTemplate      = "{app}/{stream}-{time}.flv"
	DefaultFlushInterval = time.Second
	DefaultMaxQueueBytes = 32 << 20
	DefaultIndexCapacity = 3600
)

// Sentinel errors.
var (
	// ErrDiskTooSlow: the writer fell MaxQueueBytes behind; the recording stopped.
	ErrDiskTooSlow = errors.New("recorder: disk too slow, recording stopped (queue over the limit)")
	// ErrStopped: Writev after Stop (or after the stream ended).
	ErrStopped = errors.New("recorder: recording stopped")
	// ErrBadName: an app, stream or file name that would leave the record
	// directory, or a file reached through a symbolic link.
	ErrBadName = errors.New("recorder: name escapes the record directory")
	// ErrNotFound: no such recording (in the index, or on disk any more).
	ErrNotFound = errors.New("recorder: no recording")
	// ErrNotFLV: OpenFile found no FLV header and whole first tag.
	ErrNotFLV = errors.New("recorder: not a playable FLV file")
)

func (c *Config) setDefaults() {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Template == "" {
		c.Template = DefaultTemplate
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.IndexCapacity <= 0 {
		c.IndexCapacity = DefaultIndexCapacity
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Manager starts recordings and finds them again. Every method is safe from
// any goroutine; which ones do disk I/O is said on each. The record directory
// is opened once, as an os.Root, when first needed, and stays open for the
// Manager's lifetime (moving the directory while running moves the
// recordings with it).
type Manager struct {
	cfg Config         // immutable after NewManager
	wg  sync.WaitGroup // one count per running writer goroutine
	idx index          // the recording index; its own lock

	mu   sync.Mutex // guards root
	root *os.Root   // the record directory, opened on first use; guarded by mu

	failures atomic.Uint64 // recordings stopped by an error (Failures)

	runMu   sync.Mutex              // guards running; held for no I/O
	running map[*Recording]struct{} // recordings whose writer runs

	walkMu sync.Mutex // one walk (Open, Rescan) at a time
}

// NewManager returns a manager for cfg.Dir (created when the first recording
// starts). It does no I/O: call Open to index (and repair) what is on disk;
// until then the index holds only the recordings this Manager starts.
func NewManager(cfg Config) *Manager {
	cfg.setDefaults()
	return &Manager{cfg: cfg, idx: newIndex()}
}

// Config returns the effective configuration. Safe from any goroutine.
func (m *Manager) Config() Config { return m.cfg }

// Wait blocks until every recording's writer has finished. Safe from any goroutine.
func (m *Manager) Wait() { m.wg.Wait() }

// finished forgets r, whose writer is returning.
func (m *Manager) finished(r *Recording) {
	m.runMu.Lock()
	delete(m.running, r)
	m.runMu.Unlock()
}

// Failures returns how many recordings stopped with an error (creating or
// writing the file failed, or the disk fell MaxQueueBytes behind). Safe from
// any goroutine.
func (m *Manager) Failures() uint64 { return m.failures.Load() }

// StopAll stops every running recording (each finishes its file with what
// it has received), for a shutdown once nothing more will reach them. Safe
// from any goroutine.
func (m *Manager) StopAll() {
	m.runMu.Lock()
	rs := make([]*Recording, 0, len(m.running))
	for r := range m.running {
		rs = append(rs, r)
	}
	m.runMu.Unlock()
	for _, r := range rs {
		r.Stop()
	}
}

// MaxNameLength caps a stream or app name.
const MaxNameLength = 1024

// ValidName reports whether a stream or app name is safe as a file name
// element and in URLs: not empty, at most MaxNameLength bytes, no "..", no
// leading '/', no backslash or NUL. Servers check every published and played
// name with it; recording paths are built only from such names. Safe from
// any goroutine.
func ValidName(s string) bool {
	return s != "" && len(s) <= MaxNameLength && !strings.Contains(s, "..") && !strings.HasPrefix(s, "/") && !strings.ContainsAny(s, "\\\x00")
}

func (m *Manager) fileName(app, stream string, now time.Time) string {
	r := strings.NewReplacer(
		"{app}", app,
		"{stream}", stream,
		"{time}", now.UTC().Format("20060102-150405"),
		"{date}", now.UTC().Format("20060102"),
		"{unix}", fmt.Sprint(now.Unix()),
	)
	return r.Replace(m.cfg.Template)
}

// relName returns the file name (relative, with '/') the template gives
// app/stream at now, or ErrBadName. No I/O.
func (m *Manager) relName(app, stream string, now time.Time) (string, error) {
	if !ValidName(app) || !ValidName(stream) {
		return "", ErrBadName
	}
	return relPath(filepath.ToSlash(m.fileName(app, stream, now)))
}

// create opens a new file for app/stream that does not overwrite anything,
// through the record directory's os.Root, and returns it with its name
// relative to the directory. Disk I/O: the writer goroutine calls it.
func (m *Manager) create(app, stream string, now time.Time) (*os.File, string, error) {
	rel, err := m.relName(app, stream, now)
	if err != nil {
		return nil, "", err
	}
	root, err := m.openRoot(true)
	if err != nil {
		return nil, "", err
	}
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return nil, "", fmt.Errorf("recorder: create %s: %w", filepath.Join(m.cfg.Dir, filepath.FromSlash(d)), err)
		}
	}
	ext := path.Ext(rel)
	base := strings.TrimSuffix(rel, ext)
	for i := 0; i < 1000; i++ {
		name := rel
		if i > 0 {
			name = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, "", fmt.Errorf("recorder: create %s: %w", filepath.Join(m.cfg.Dir, filepath.FromSlash(name)), err)
		}
	}
	return nil, "", fmt.Errorf("recorder: no free file name for %s", filepath.Join(m.cfg.Dir, filepath.FromSlash(rel)))
}

// Start begins recording app/stream. Attach the returned Recording to the
// stream as an FLV-form fanout subscriber; it finishes the file when the stream
// ends (EndOfStream), when the subscription closes (Close), or on Stop.
//
// Start does no disk I/O and does not block: it checks the names (ErrBadName)
// and starts the writer goroutine, which creates the directory and the file.
// If that fails, the recording ends: one error log, Writev returns the error
// (so the subscription ends) and so does Wait. Safe from any goroutine,
// event loops included.
func (m *Manager) Start(app, stream string) (*Recording, error) {
	now := time.Now()
	if _, err := m.relName(app, stream, now); err != nil {
		return nil, err
	}
	r := &Recording{
		m:       m,
		app:     app,
		stream:  stream,
		start:   now,
		created: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		log:     m.cfg.Logger.With("app", app, "stream", stream),
	}
	r.w.r = r
	r.q = make([]byte, 0, 256<<10)
	r.w.buf = make([]byte, 0, 256<<10) // swapped with q: both start sized
	m.runMu.Lock()
	if m.running == nil {
		m.running = map[*Recording]struct{}{}
	}
	m.running[r] = struct{}{}
	m.runMu.Unlock()
	m.wg.Add(1)
	go r.w.run()
	return r, nil
}

// Recording is one stream being recorded. As a fanout.Sink (Writev,
// OutboundBuffered, Close, EndOfStream) it is driven by one event loop; Stop,
// Wait and Path are safe from any goroutine.
type Recording struct {
	m       *Manager      // immutable
	app     string        // immutable
	stream  string        // immutable
	start   time.Time     // immutable: when Start was called (names the first file)
	log     *slog.Logger  // immutable
	created chan struct{} // closed by the writer once the first file exists or could not be created

	mu       sync.Mutex
	path     string        // file being written, "" until created; guarded by mu
	q        []byte        // bytes waiting for the writer; guarded by mu
	stopping bool          // guarded by mu
	err      error         // why the recording stopped early; guarded by mu
	wake     chan struct{} // Writev and Stop signal the writer
	done     chan struct{} // closed when the writer has finished

	w writer // owned by the writer goroutine
}

// Writev implements fanout.Sink: it copies bufs into the queue (no allocation
// in steady state, no I/O; bufs are not retained). It fails (and the
// subscription ends) once the writer has fallen MaxQueueBytes behind
// (ErrDiskTooSlow), failed (its error), or stopped (ErrStopped).
func (r *Recording) Writev(bufs [][]byte) (int, error) {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	r.mu.Lock()
	if r.stopping {
		err := r.err
		r.mu.Unlock()
		if err == nil {
			err = ErrStopped
		}
		return 0, err
	}
	if len(r.q)+n > r.m.cfg.MaxQueueBytes {
		r.stopping = true
		r.err = ErrDiskTooSlow
		r.m.failures.Add(1)
		r.mu.Unlock()
		r.signal()
		return 0, ErrDiskTooSlow
	}
	for _, b := range bufs {
		r.q = append(r.q, b...)
	}
	r.mu.Unlock()
	r.signal()
	return n, nil
}

// OutboundBuffered implements fanout.Sink. The recorder applies its own limit
// (MaxQueueBytes) instead of the fanout's skip-ahead, so it reports 0: a
// recording is either complete or stopped with an error, never silently gapped.
func (r *Recording) OutboundBuffered() int { return 0 }

// Close implements fanout.Sink: the subscription ended; finish the file.
func (r *Recording) Close() error { r.Stop(); return nil }

// EndOfStream implements fanout.EndOfStreamer: the publisher left.
func (r *Recording) EndOfStream() { r.Stop() }

// Stop finishes the recording after writing what is queued. Idempotent; safe
// from any goroutine.
func (r *Recording) Stop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	r.signal()
}

// Wait blocks until the file is finished and returns why it stopped early, if
// it did (ErrDiskTooSlow, or the error that creating or writing the file met).
// Safe from any goroutine.
func (r *Recording) Wait() error {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Path returns the file being written (the record directory joined with its
// Info.File; after a rotation, the newest). It is "" until the writer goroutine
// has created the file, and stays "" if that failed. Safe from any goroutine.
func (r *Recording) Path() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path
}

func (r *Recording) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
