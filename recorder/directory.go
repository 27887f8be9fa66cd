package recorder

// The record directory on disk: relative paths checked lexically, the
// directory opened once as an os.Root, and recordings opened through it with
// no symbolic link on the way.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

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
