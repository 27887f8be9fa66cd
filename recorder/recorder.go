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
	"time"

	"github.com/quaverlive/quaver/flvmux"
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

// writer is the recording's file side, run by one goroutine; every field is
// owned by it.
type writer struct {
	r    *Recording
	f    *os.File
	path string // the record directory joined with rel
	rel  string // name relative to the record directory: the index key
	rd   flvmux.Reader
	buf  []byte // swapped with the queue
	out  []byte // whole tags not yet written to the file
	pos  int64  // file size including out

	started   bool
	metaOff   int64 // file offset of the metadata body
	metaSize  int
	md        fileMeta
	metaBody  []byte // latest publisher onMetaData (for rotation)
	vseq      []byte // latest video sequence header tag data
	aseq      []byte
	tl        flvmux.Timeline // source timestamps to this file's, from its first keyframe
	lastTS    uint32
	lastVideo uint32
	prevVideo uint32
	fileStart time.Time
	onDisk    int64 // bytes of the file written to the kernel (the index's Size)
	lastFlush time.Time
	err       error
}

func (w *writer) run() {
	r := w.r
	defer r.m.wg.Done()
	defer close(r.done)
	f, rel, err := r.m.create(r.app, r.stream, r.start)
	if err != nil {
		w.fail(err)
		close(r.created)
		r.mu.Lock()
		r.q = nil // nothing will write it; Writev refuses from now on
		r.mu.Unlock()
		return
	}
	w.setFile(f, rel)
	close(r.created)
	r.log.Info("recording started", "file", w.path)
	tick := time.NewTicker(r.m.cfg.FlushInterval / 2)
	defer tick.Stop()
	w.lastFlush = time.Now()
	for {
		select {
		case <-r.wake:
		case <-tick.C:
		}
		r.mu.Lock()
		w.buf, r.q = r.q, w.buf[:0]
		stopping := r.stopping
		r.mu.Unlock()
		if w.err == nil {
			w.consume(w.buf)
		}
		if w.err == nil && (time.Since(w.lastFlush) >= r.m.cfg.FlushInterval || stopping) {
			w.flush()
		}
		if stopping {
			r.mu.Lock()
			rest := len(r.q)
			r.mu.Unlock()
			if rest > 0 {
				continue
			}
			w.finalize()
			return
		}
	}
}

func (w *writer) fail(err error) {
	if w.err != nil {
		return
	}
	w.err = err
	r := w.r
	r.mu.Lock()
	r.stopping = true
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	if w.path == "" {
		r.log.Error("recording failed", "err", err)
	} else {
		r.log.Error("recording failed", "file", w.path, "err", err)
	}
}

// setFile makes f (rel inside the record directory) the file being written and
// enters it in the index.
func (w *writer) setFile(f *os.File, rel string) {
	w.f, w.rel = f, rel
	w.path = filepath.Join(w.r.m.cfg.Dir, filepath.FromSlash(rel))
	w.r.mu.Lock()
	w.r.path = w.path
	w.r.mu.Unlock()
	w.onDisk = 0
	w.publish(true)
}

// publish tells the index what the file is: while active, its size on disk
// with the metadata's duration 0; once finished, what the final metadata says.
func (w *writer) publish(active bool) {
	start := w.r.start
	if w.started {
		start = time.UnixMilli(w.md.StartMs)
	}
	in := Info{App: w.r.app, Stream: w.r.stream, File: w.rel, Start: start.UTC(), Size: w.onDisk}
	if !active {
		in.Duration, in.Complete = w.md.Duration, w.md.Complete
	}
	w.r.m.idx.put(entry{info: in, ours: true, active: active})
}

// consume parses FLV bytes from the subscription and handles each whole tag.
func (w *writer) consume(p []byte) {
	for len(p) > 0 && w.err == nil {
		n, tag, err := w.rd.Feed(p)
		p = p[n:]
		if err != nil {
			w.fail(fmt.Errorf("recorder: bad FLV from the stream: %w", err))
			return
		}
		if tag != nil {
			w.tag(tag)
		}
	}
}

func (w *writer) tag(t *flvmux.Tag) {
	switch t.Type {
	case flvmux.TagScript:
		body := flvmux.StripSetDataFrame(t.Data)
		var md fileMeta
		if _, err := readMeta(body, &md); err == nil {
			w.metaBody = append(w.metaBody[:0], body...)
			keep := w.md
			w.md.Metadata = md.Metadata
			w.md.Keyframes = keep.Keyframes
			w.md.Duration, w.md.FileSize = 0, 0
		}
		return // our own metadata tag replaces the publisher's
	case flvmux.TagVideo:
		vh, err := flvmux.ReadVideoHeader(t.Data)
		if err == nil {
			w.md.HasVideo = true
			w.md.VideoCodecID = videoCodecID(vh)
			if vh.IsSequenceHeader() {
				w.vseq = append(w.vseq[:0], t.Data...)
			}
		}
		if err == nil && vh.IsKeyframe() && !vh.IsSequenceHeader() {
			w.keyframe(t)
			return
		}
	case flvmux.TagAudio:
		ah, err := flvmux.ReadAudioHeader(t.Data)
		if err == nil {
			w.md.HasAudio = true
			w.md.AudioCodecID = audioCodecID(ah)
			if ah.IsSequenceHeader() {
				w.aseq = append(w.aseq[:0], t.Data...)
			}
		}
	}
	w.write(t.Type, t.Timestamp, t.Data)
}

// keyframe writes a video keyframe: it may rotate the file first, it enters the
// index, and everything up to and including it is pushed to the kernel.
func (w *writer) keyframe(t *flvmux.Tag) {
	cfg := &w.r.m.cfg
	rel := uint32(0)
	if w.started {
		rel = w.tl.Map(t.Timestamp)
		if (cfg.RotateDuration > 0 && time.Duration(rel)*time.Millisecond >= cfg.RotateDuration) ||
			(cfg.RotateSize > 0 && w.pos >= cfg.RotateSize) {
			w.rotate(t.Timestamp) // the new file starts at this keyframe: rel 0
			rel = 0
		}
	} else {
		w.begin(t.Timestamp)
	}
	if w.err != nil {
		return
	}
	w.md.Keyframes.Times = append(w.md.Keyframes.Times, float64(rel)/1000)
	w.md.Keyframes.FilePositions = append(w.md.Keyframes.FilePositions, float64(w.pos))
	w.writeRel(t.Type, rel, t.Data)
	w.flush()
}

// begin writes the FLV header and the reserved metadata tag of a new file.
func (w *writer) begin(ts uint32) {
	w.started = true
	w.tl.Start(ts)
	w.fileStart = time.Now()
	w.md.StartMs = w.fileStart.UnixMilli()
	w.md.App, w.md.Stream = w.r.app, w.r.stream
	w.md.Complete = false
	hasAudio := w.md.HasAudio || w.aseq != nil
	hasVideo := w.md.HasVideo || w.vseq != nil
	w.out = flvmux.AppendFileHeader(w.out, hasAudio, hasVideo)
	w.metaSize = reservedSize(w.r.m.cfg.IndexCapacity)
	body, err := encodeMeta(nil, &w.md, w.metaSize)
	if err != nil {
		w.fail(err)
		return
	}
	w.metaOff = int64(len(w.out)) + flvmux.TagHeaderSize
	w.out = flvmux.AppendTag(w.out, flvmux.TagScript, 0, body)
	w.pos = int64(len(w.out))
	// The sequence headers come first in every file, even after a rotation.
	if w.vseq != nil {
		w.out = flvmux.AppendTag(w.out, flvmux.TagVideo, 0, w.vseq)
	}
	if w.aseq != nil {
		w.out = flvmux.AppendTag(w.out, flvmux.TagAudio, 0, w.aseq)
	}
	w.pos = int64(len(w.out))
}

// write appends one tag with its timestamp relative to the file's start. Tags
// before the first keyframe of the file are the sequence headers, kept for begin.
func (w *writer) write(typ uint8, ts uint32, data []byte) {
	if !w.started {
		return // waiting for the first keyframe; sequence headers are kept
	}
	w.writeRel(typ, w.tl.Map(ts), data)
}

// writeRel appends one tag with rel, its timestamp in the file.
func (w *writer) writeRel(typ uint8, rel uint32, data []byte) {
	if typ == flvmux.TagVideo {
		w.prevVideo, w.lastVideo = w.lastVideo, rel
	}
	if rel > w.lastTS {
		w.lastTS = rel
	}
	before := len(w.out)
	w.out = flvmux.AppendTag(w.out, typ, rel, data)
	w.pos += int64(len(w.out) - before)
}

// flush hands buffered whole tags to the kernel.
func (w *writer) flush() {
	w.lastFlush = time.Now()
	if len(w.out) == 0 || w.err != nil {
		return
	}
	if _, err := w.f.Write(w.out); err != nil {
		w.fail(fmt.Errorf("recorder: write %s: %w", w.path, err))
		return
	}
	w.out = w.out[:0]
	w.onDisk = w.pos
	w.publish(true)
}

// duration estimates the file's duration: the last timestamp plus one frame.
func (w *writer) duration() float64 {
	frame := uint32(0)
	if w.lastVideo > w.prevVideo {
		frame = w.lastVideo - w.prevVideo
	}
	return float64(w.lastTS+frame) / 1000
}

// finalize rewrites the metadata in place and closes the file.
func (w *writer) finalize() {
	if w.f == nil {
		return // a rotation could not create the next file
	}
	if !w.started {
		// Nothing was recorded (no keyframe arrived): leave no empty file behind.
		_ = w.f.Close()
		if root, err := w.r.m.openRoot(false); err == nil {
			_ = root.Remove(w.rel)
		}
		w.r.m.idx.remove(w.rel, true)
		w.r.log.Info("recording discarded: no keyframe", "file", w.path)
		return
	}
	w.flush()
	w.md.Duration = w.duration()
	w.md.FileSize = float64(w.pos)
	w.md.Complete = true
	if body, err := encodeMeta(nil, &w.md, w.metaSize); err != nil {
		w.md.Complete = false
		w.r.log.Error("recording metadata", "file", w.path, "err", err)
	} else if _, err := w.f.WriteAt(body, w.metaOff); err != nil {
		w.md.Complete = false
		w.r.log.Error("recording metadata", "file", w.path, "err", err)
	}
	if !w.md.Complete {
		w.md.Duration = 0 // what the metadata on disk still says
	}
	_ = w.f.Sync()
	_ = w.f.Close()
	w.publish(false)
	w.r.log.Info("recording finished", "file", w.path, "duration", w.md.Duration, "bytes", w.pos,
		"keyframes", len(w.md.Keyframes.Times))
}

// rotate finishes the current file and opens the next one at timestamp ts.
func (w *writer) rotate(ts uint32) {
	w.finalize()
	f, rel, err := w.r.m.create(w.r.app, w.r.stream, time.Now())
	if err != nil {
		w.f, w.started = nil, false // the old file is finished; there is no new one
		w.fail(fmt.Errorf("recorder: rotate: %w", err))
		return
	}
	w.out, w.pos = w.out[:0], 0
	w.started = false
	w.setFile(f, rel)
	w.r.log.Info("recording rotated", "file", w.path)
	w.lastTS, w.lastVideo, w.prevVideo = 0, 0, 0
	w.md.Keyframes = flvmux.Keyframes{}
	w.begin(ts)
}

// videoCodecID is the onMetaData videocodecid of a video tag: the legacy codec
// id, or the FourCC as a number for Enhanced RTMP.
func videoCodecID(vh flvmux.VideoHeader) float64 {
	if vh.Enhanced {
		return float64(vh.FourCC)
	}
	return float64(vh.CodecID)
}

// audioCodecID is the onMetaData audiocodecid of an audio tag: the legacy sound
// format, or the FourCC as a number for Enhanced RTMP.
func audioCodecID(ah flvmux.AudioHeader) float64 {
	if ah.Enhanced {
		return float64(ah.FourCC)
	}
	return float64(ah.SoundFormat)
}
