package recorder

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

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
	defer r.m.finished(r)
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
	w.r.m.failures.Add(1)
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
func (w *writer) publish(active bool) Info {
	start := w.r.start
	if w.started {
		start = time.UnixMilli(w.md.StartMs)
	}
	in := Info{App: w.r.app, Stream: w.r.stream, File: w.rel, Start: start.UTC(), Size: w.onDisk}
	if !active {
		in.Duration, in.Complete = w.md.Duration, w.md.Complete
	}
	w.r.m.idx.put(entry{info: in, ours: true, active: active})
	return in
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
	info := w.publish(false)
	w.r.log.Info("recording finished", "file", w.path, "duration", w.md.Duration, "bytes", w.pos,
		"keyframes", len(w.md.Keyframes.Times))
	if f := w.r.m.cfg.OnFinish; f != nil {
		f(info)
	}
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
