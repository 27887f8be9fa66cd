package recorder

// Building the recording index from one walk of the record directory (Open,
// Rescan), repairing unfinished recordings on the way when asked to.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

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
