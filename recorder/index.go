package recorder

// The recording index: the Manager's in-memory view of the record directory,
// which List, Find and Lookup answer from without touching the disk.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
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

// relPath cleans rel, a slash-separated path inside the record directory, and
// refuses anything that would leave it (ErrBadName). It does no I/O.
func relPath(rel string) (string, error) {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.ContainsAny(rel, "\\\x00") ||
		filepath.IsAbs(rel) || filepath.VolumeName(rel) != "" {
		return "", ErrBadName
	}
	c := path.Clean(rel)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrBadName
	}
	return c, nil
}

// safeJoin joins rel under dir and refuses anything that would leave dir.
// Lexical only: symbolic links are the business of the os.Root every
// recording is opened through.
func safeJoin(dir, rel string) (string, error) {
	c, err := relPath(rel)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.FromSlash(c)), nil
}

// openRoot returns the record directory as an os.Root, opening it on first use
// (and, with create, creating it). It does disk I/O the first time only.
func (m *Manager) openRoot(create bool) (*os.Root, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.root != nil {
		return m.root, nil
	}
	if create {
		if err := os.MkdirAll(m.cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("recorder: record directory: %w", err)
		}
	}
	root, err := os.OpenRoot(m.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("recorder: record directory: %w", err)
	}
	m.root = root
	return root, nil
}

// Open builds the recording index with one walk of the record directory: every
// regular .flv file is indexed, and Quaver recordings left unfinished by a crash
// are repaired first (see Repair). Symbolic links and other non-regular files
// are skipped: they are not recordings. Call it once at startup, before
// recordings begin (files being written by this Manager are never repaired). A
// missing record directory is an empty index, not an error. It returns how many
// files were repaired and the repair errors joined; a file that could not be
// repaired is indexed as its metadata says. Safe from any goroutine, but it
// reads the disk: never call it on an event loop.
func (m *Manager) Open() (repaired int, err error) {
	return m.walkIndex(true)
}

// RepairAll is Open, under the name the server used before the index existed.
//
// Deprecated: use Open.
func (m *Manager) RepairAll() (int, error) { return m.Open() }

// Rescan rebuilds the index from the record directory with one walk, as Open
// does but without repairing anything: for files an operator copied in or
// deleted. Recordings being written keep their entries. Safe from any
// goroutine; it reads the disk: never call it on an event loop.
func (m *Manager) Rescan() error {
	_, err := m.walkIndex(false)
	return err
}

func (m *Manager) walkIndex(repair bool) (int, error) {
	m.walkMu.Lock()
	defer m.walkMu.Unlock()
	mark := m.idx.mark()
	root, err := m.openRoot(false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			m.idx.replace(make(map[string]*entry), mark)
			return 0, nil
		}
		return 0, err
	}
	fresh := make(map[string]*entry)
	n := 0
	var errs []error
	werr := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // an unreadable subdirectory: skip it
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".flv") {
			return nil // directories are walked; links and devices are not recordings
		}
		e, ok, fixed, rerr := m.indexFile(root, p, repair)
		if rerr != nil {
			errs = append(errs, rerr)
		}
		if fixed {
			n++
		}
		if ok {
			fresh[p] = &e
		}
		return nil
	})
	if werr != nil {
		return n, fmt.Errorf("recorder: walking %s: %w", m.cfg.Dir, werr)
	}
	m.idx.replace(fresh, mark)
	return n, errors.Join(errs...)
}

// indexFile reads the metadata of the regular file rel (opened through root),
// repairing it first when repair is set and it is an unfinished Quaver
// recording that no Recording is writing. ok says whether rel is indexed,
// repaired whether it was repaired.
func (m *Manager) indexFile(root *os.Root, rel string, repair bool) (e entry, ok, repaired bool, err error) {
	f, err := root.Open(rel)
	if err != nil {
		return e, false, false, nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		return e, false, false, nil
	}
	full := filepath.Join(m.cfg.Dir, filepath.FromSlash(rel))
	md, _, _, ours, herr := headerInfoFile(f, full)
	_ = f.Close()
	e.info = Info{File: rel, Size: st.Size(), Start: st.ModTime().UTC()}
	if herr == nil || ours {
		e.ours = ours
		e.info.Duration, e.info.Complete = md.Duration, md.Complete
	}
	if e.ours {
		e.info.App, e.info.Stream = md.App, md.Stream
		e.info.Start = time.UnixMilli(md.StartMs).UTC()
	}
	if !repair || !e.ours || e.info.Complete || m.idx.isActive(rel) {
		return e, true, false, nil
	}
	rf, err := root.OpenFile(rel, os.O_RDWR, 0)
	if err != nil {
		return e, true, false, fmt.Errorf("recorder: repair %s: %w", full, err)
	}
	defer rf.Close()
	// A recording of this Manager may have finished since the header was read.
	if md, _, _, _, err := headerInfoFile(rf, full); err == nil && md.Complete {
		e.info.Duration, e.info.Complete = md.Duration, true
		if st, err := rf.Stat(); err == nil {
			e.info.Size = st.Size()
		}
		return e, true, false, nil
	}
	in, err := repairFile(rf, full, m.cfg.IndexCapacity)
	if err != nil {
		return e, true, false, err
	}
	m.cfg.Logger.Info("recording repaired after an unclean stop", "file", full)
	e.info.Duration, e.info.Size, e.info.Complete = in.Duration, in.Size, true
	return e, true, true, nil
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

// OpenRecording opens the recording file (an Info.File: relative to the record
// directory, with '/') for reading. It opens through an os.Root of the record
// directory, so no path leaves it, and refuses any symbolic link on the way
// (the index never holds one): a name that is not a clean relative path, or
// that goes through a link, is ErrBadName; a missing or non-regular file is
// ErrNotFound, and the file is dropped from the index (Forget). The caller owns
// the returned file and closes it. Safe from any goroutine; it does disk I/O:
// call it off the event loop.
func (m *Manager) OpenRecording(file string) (*os.File, error) {
	rel, err := relPath(file)
	if err != nil {
		return nil, err
	}
	root, err := m.openRoot(false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, rel)
		}
		return nil, err
	}
	var fi fs.FileInfo
	for i := 0; ; {
		j := strings.IndexByte(rel[i:], '/')
		p := rel
		if j >= 0 {
			p = rel[:i+j]
		}
		fi, err = root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			m.idx.remove(rel, false)
			return nil, fmt.Errorf("%w: %s", ErrNotFound, rel)
		case err != nil:
			return nil, fmt.Errorf("recorder: open %s: %w", rel, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			m.idx.remove(rel, false)
			return nil, fmt.Errorf("%w: %s goes through the symbolic link %s", ErrBadName, rel, p)
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	if !fi.Mode().IsRegular() {
		m.idx.remove(rel, false)
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, rel)
	}
	f, err := root.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			m.idx.remove(rel, false)
			return nil, fmt.Errorf("%w: %s", ErrNotFound, rel)
		}
		return nil, fmt.Errorf("recorder: open %s: %w", rel, err)
	}
	// The file checked above is the file opened (not swapped in between).
	if st, err := f.Stat(); err != nil || !os.SameFile(fi, st) {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s changed while being opened", ErrNotFound, rel)
	}
	return f, nil
}
