package recorder

// The recording index: the Manager's in-memory view of the record directory,
// which List, Find and Lookup answer from without touching the disk.

import (
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// streamKey names the recordings of one stream.
type streamKey struct{ app, stream string }

// entry is one regular .flv file of the record directory.
type entry struct {
	info   Info
	ours   bool   // a Quaver recording: App and Stream come from its metadata
	active bool   // being written by a Recording of this Manager
	seq    uint64 // index.seq when a Recording last put it (0: from a walk)
}

// index maps the record directory's regular .flv files to what their metadata
// says. It holds one entry per file: the files the last walk (Open, Rescan)
// found plus the files this Manager created since, less those removed
// (Forget, OpenRecording of a vanished file, a discarded recording). Memory is
// bounded by the disk: an entry is a few hundred bytes and every recording
// starts with a reserved metadata tag of reservedSize (about 64 KiB), so the
// index is well under 1% of the recordings it describes. A file deleted behind
// Quaver's back keeps its entry until it is opened, forgotten or rescanned.
//
// Every method is safe from any goroutine; lookups take the read lock for a
// map access and never do I/O.
type index struct {
	mu      sync.RWMutex
	files   map[string]*entry      // by Info.File; guarded by mu
	streams map[streamKey][]*entry // Quaver recordings of each stream, oldest first; guarded by mu
	seq     uint64                 // count of Recording updates; guarded by mu
}

func newIndex() index {
	return index{files: make(map[string]*entry), streams: make(map[streamKey][]*entry)}
}

// playable reports whether e has bytes on disk (a recording waiting for its
// first keyframe has none yet, and is not offered for playback).
func (e *entry) playable() bool { return e.info.Size > 0 }

// before orders recordings of one stream: older start first, then by file name
// (fileBefore).
func (e *entry) before(o *entry) bool {
	if !e.info.Start.Equal(o.info.Start) {
		return e.info.Start.Before(o.info.Start)
	}
	return fileBefore(e.info.File, o.info.File)
}

// fileBefore orders file names created in the same millisecond: create adds
// "-1", "-2", ... to a name that exists, so x.flv < x-1.flv < x-2.flv <
// x-10.flv; other names compare as strings.
func fileBefore(a, b string) bool {
	if _, ok := collision(b, a); ok {
		return true
	}
	if _, ok := collision(a, b); ok {
		return false
	}
	if ba, na, ok := splitCollision(a); ok {
		if bb, nb, ok := splitCollision(b); ok && ba == bb {
			return na < nb
		}
	}
	return a < b
}

// collision reports whether name is base with create's suffix "-N" (N >= 1,
// no leading zero) before the extension, and N.
func collision(name, base string) (int, bool) {
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	if len(name) <= len(stem)+1+len(ext) || !strings.HasPrefix(name, stem) || name[len(stem)] != '-' ||
		!strings.HasSuffix(name, ext) {
		return 0, false
	}
	digits := name[len(stem)+1 : len(name)-len(ext)]
	if digits[0] == '0' || len(digits) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
		n = n*10 + int(digits[i]-'0')
	}
	return n, true
}

// splitCollision splits name into the base it would be a collision name of and N.
func splitCollision(name string) (string, int, bool) {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	i := strings.LastIndexByte(stem, '-')
	if i < 0 {
		return "", 0, false
	}
	base := stem[:i] + ext
	n, ok := collision(name, base)
	return base, n, ok
}

// link adds e to its stream's list. Caller holds mu.
func (x *index) link(e *entry) {
	if !e.ours {
		return
	}
	k := streamKey{e.info.App, e.info.Stream}
	list := x.streams[k]
	i, _ := slices.BinarySearchFunc(list, e, func(a, b *entry) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	x.streams[k] = slices.Insert(list, i, e)
}

// unlink removes e from its stream's list. Caller holds mu.
func (x *index) unlink(e *entry) {
	if !e.ours {
		return
	}
	k := streamKey{e.info.App, e.info.Stream}
	list := x.streams[k]
	if i := slices.Index(list, e); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(x.streams, k)
	} else {
		x.streams[k] = list
	}
}

// put records what a Recording knows about its file.
func (x *index) put(e entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seq++
	e.seq = x.seq
	if old, ok := x.files[e.info.File]; ok {
		if old.ours == e.ours && old.info.App == e.info.App && old.info.Stream == e.info.Stream &&
			old.info.Start.Equal(e.info.Start) {
			*old = e // same place in its stream's list
			return
		}
		x.unlink(old)
	}
	p := new(entry)
	*p = e
	x.files[e.info.File] = p
	x.link(p)
}

// remove drops the entry of file unless a Recording is writing it (force: even then).
func (x *index) remove(file string, force bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.files[file]
	if !ok || (e.active && !force) {
		return
	}
	x.seq++
	x.unlink(e)
	delete(x.files, file)
}

// isActive reports whether a Recording is writing file.
func (x *index) isActive(file string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.files[file]
	return ok && e.active
}

// mark returns the update count, taken before a walk.
func (x *index) mark() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.seq
}

// replace installs the result of a walk that started at update count mark.
// Entries a Recording is writing, or updated since the walk began, are newer
// than what the walk read and are kept.
func (x *index) replace(fresh map[string]*entry, mark uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for f, e := range x.files {
		if e.active || e.seq > mark {
			fresh[f] = e
		}
	}
	x.files = fresh
	x.streams = make(map[streamKey][]*entry)
	for _, e := range fresh {
		x.link(e)
	}
}

// file returns the playable entry of file.
func (x *index) file(file string) (Info, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.files[file]
	if !ok || !e.playable() {
		return Info{}, false
	}
	return e.info, true
}

// newest returns the newest playable recording of app/stream.
func (x *index) newest(app, stream string) (Info, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	list := x.streams[streamKey{app, stream}]
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].playable() {
			return list[i].info, true
		}
	}
	return Info{}, false
}

// list returns the playable Quaver recordings, newest first.
func (x *index) list() []Info {
	x.mu.RLock()
	out := make([]Info, 0, len(x.files))
	for _, e := range x.files {
		if e.ours && e.playable() {
			out = append(out, e.info)
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(out, func(a, b Info) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		switch {
		case a.File == b.File:
			return 0
		case fileBefore(b.File, a.File):
			return -1
		}
		return 1
	})
	return out
}

// size returns the number of entries (for tests).
func (x *index) size() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.files)
}

// List returns the Quaver recordings in the index, newest first, including
// those being written once their first keyframe is on disk (foreign FLV files
// are found by file name only). It answers from memory (no disk I/O, so no
// error; O(recordings) to copy and sort) and is safe from any goroutine. The
// slice is the caller's.
func (m *Manager) List() []Info {
	return m.idx.list()
}

// Lookup resolves a play name to a recording's Info, from memory (no disk I/O;
// safe from any goroutine, cheap enough for an event loop):
//   - "<stream>" is the newest recording of app/stream (by start time);
//   - a name ending in ".flv" is that file under app's folder, relative to the
//     record directory; a name that would leave it is ErrBadName.
//
// A recording whose first keyframe is not on disk yet is not found
// (ErrNotFound). Info.File is what OpenRecording takes. Duration and Complete
// are what the file's metadata says: 0 and false while it is being written.
func (m *Manager) Lookup(app, name string) (Info, error) {
	if strings.HasSuffix(name, ".flv") {
		rel, err := relPath(path.Join(app, name))
		if err != nil {
			return Info{}, err
		}
		if in, ok := m.idx.file(rel); ok {
			return in, nil
		}
		return Info{}, ErrNotFound
	}
	if !ValidName(app) || !ValidName(name) {
		return Info{}, ErrBadName
	}
	if in, ok := m.idx.newest(app, name); ok {
		return in, nil
	}
	return Info{}, ErrNotFound
}

// Find is Lookup returning the recording's path (the record directory joined
// with Info.File). It answers from memory and is safe from any goroutine.
// Open the file with OpenRecording(Info.File), not with the path: only that
// keeps symbolic links from leading out of the record directory.
func (m *Manager) Find(app, name string) (string, error) {
	in, err := m.Lookup(app, name)
	if err != nil {
		return "", err
	}
	return filepath.Join(m.cfg.Dir, filepath.FromSlash(in.File)), nil
}

// Forget drops file (an Info.File) from the index, for a recording found
// deleted or unusable; a file being recorded is kept. Safe from any goroutine;
// no disk I/O.
func (m *Manager) Forget(file string) {
	if rel, err := relPath(file); err == nil {
		m.idx.remove(rel, false)
	}
}
