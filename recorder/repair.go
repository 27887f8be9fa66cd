package recorder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// Info describes a recording on disk.
type Info struct {
	App      string    `json:"app"`
	Stream   string    `json:"stream"`
	File     string    `json:"file"` // path relative to the record directory, with '/'
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration"` // seconds
	Size     int64     `json:"size"`
	Complete bool      `json:"complete"`
}

// scanResult is what a pass over a file's tags learns.
type scanResult struct {
	end       int64 // offset just past the last whole tag and its PreviousTagSize
	lastTS    uint32
	lastVideo uint32
	prevVideo uint32
	keys      flvmux.Keyframes
	hasAudio  bool
	hasVideo  bool
	vcodec    float64
	acodec    float64
}

// scan reads every whole tag of the file from the first media tag on.
func scan(f *os.File) (scanResult, error) {
	var res scanResult
	var rd flvmux.Reader
	buf := make([]byte, 256<<10)
	var off int64 // file offset of buf[0]
	var consumed int64
	for {
		n, err := f.ReadAt(buf, off)
		p := buf[:n]
		for len(p) > 0 {
			k, tag, ferr := rd.Feed(p)
			p = p[k:]
			consumed += int64(k)
			if ferr != nil {
				return res, nil // corrupt tail: keep what was whole before it
			}
			if tag == nil {
				continue
			}
			// The tag ends at consumed; its PreviousTagSize follows.
			tagStart := consumed - int64(flvmux.TagHeaderSize) - int64(tag.DataSize)
			res.end = consumed + flvmux.PrevTagSizeLen
			ts := tag.Timestamp
			if ts > res.lastTS {
				res.lastTS = ts
			}
			switch tag.Type {
			case flvmux.TagVideo:
				res.hasVideo = true
				res.prevVideo, res.lastVideo = res.lastVideo, ts
				if vh, err := flvmux.ReadVideoHeader(tag.Data); err == nil {
					res.vcodec = videoCodecID(vh)
					if vh.IsKeyframe() && !vh.IsSequenceHeader() {
						res.keys.Times = append(res.keys.Times, float64(ts)/1000)
						res.keys.FilePositions = append(res.keys.FilePositions, float64(tagStart))
					}
				}
			case flvmux.TagAudio:
				res.hasAudio = true
				if ah, err := flvmux.ReadAudioHeader(tag.Data); err == nil {
					res.acodec = audioCodecID(ah)
				}
			}
		}
		off += int64(n)
		if err == io.EOF || n == 0 {
			break
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// Repair makes a recording left unfinished by a crash whole again: it cuts a torn
// last tag and rewrites the metadata (duration, file size, keyframe index) from
// the tags. Files written by Quaver are fixed in place; other FLV files are
// rewritten with a fresh metadata tag through a temporary file and a rename.
func Repair(path string, indexCapacity int) (Info, error) {
	if indexCapacity <= 0 {
		indexCapacity = DefaultIndexCapacity
	}
	md, bodyOff, bodyLen, ours, err := headerInfo(path)
	if err != nil && !ours {
		return Info{}, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	res, err := scan(f)
	if err != nil {
		return Info{}, fmt.Errorf("recorder: repair %s: %w", path, err)
	}
	if res.end > 0 {
		// A PreviousTagSize cut off at the very end is written back.
		st, _ := f.Stat()
		if st.Size() < res.end {
			if err := f.Truncate(res.end - flvmux.PrevTagSizeLen); err != nil {
				return Info{}, err
			}
			res.end -= flvmux.PrevTagSizeLen
		} else if err := f.Truncate(res.end); err != nil {
			return Info{}, err
		}
	}
	frame := uint32(0)
	if res.lastVideo > res.prevVideo {
		frame = res.lastVideo - res.prevVideo
	}
	md.Duration = float64(res.lastTS+frame) / 1000
	md.FileSize = float64(res.end)
	md.Keyframes = res.keys
	md.HasAudio, md.HasVideo = res.hasAudio, res.hasVideo
	if res.vcodec != 0 {
		md.VideoCodecID = res.vcodec
	}
	if res.acodec != 0 {
		md.AudioCodecID = res.acodec
	}
	md.Complete = true
	if !ours {
		return Info{}, fmt.Errorf("recorder: repair %s: not a Quaver recording (no reserved metadata)", path)
	}
	body, err := encodeMeta(nil, &md, bodyLen)
	if err != nil {
		return Info{}, err
	}
	if _, err := f.WriteAt(body, bodyOff); err != nil {
		return Info{}, err
	}
	if err := f.Sync(); err != nil {
		return Info{}, err
	}
	return Info{App: md.App, Stream: md.Stream, Start: time.UnixMilli(md.StartMs), Duration: md.Duration,
		Size: res.end, Complete: true}, nil
}

// RepairAll repairs every unfinished recording under the record directory. It
// runs at startup, before new recordings begin.
func (m *Manager) RepairAll() (int, error) {
	n := 0
	var errs []error
	_ = filepath.WalkDir(m.cfg.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".flv") {
			return nil
		}
		md, _, _, ours, err := headerInfo(p)
		if err != nil || !ours || md.Complete {
			return nil
		}
		if _, err := Repair(p, m.cfg.IndexCapacity); err != nil {
			errs = append(errs, err)
			return nil
		}
		m.cfg.Logger.Info("recording repaired after an unclean stop", "file", p)
		n++
		return nil
	})
	return n, errors.Join(errs...)
}

// List returns the recordings under the record directory, newest first.
func (m *Manager) List() ([]Info, error) {
	var out []Info
	err := filepath.WalkDir(m.cfg.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(p, ".flv") {
			return nil
		}
		md, _, _, ours, err := headerInfo(p)
		if err != nil || !ours {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(m.cfg.Dir, p)
		out = append(out, Info{App: md.App, Stream: md.Stream, File: filepath.ToSlash(rel),
			Start: time.UnixMilli(md.StartMs).UTC(), Duration: md.Duration, Size: st.Size(), Complete: md.Complete})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out, err
}

// Find resolves a play name to a recording: "<stream>" is the newest recording of
// app/stream; a name ending in ".flv" is a file under the record directory
// (relative, never escaping it).
func (m *Manager) Find(app, name string) (string, error) {
	if strings.HasSuffix(name, ".flv") {
		p, err := safeJoin(m.cfg.Dir, filepath.ToSlash(filepath.Join(app, name)))
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err != nil {
			return "", ErrNotFound
		}
		return p, nil
	}
	if !validPart(app) || !validPart(name) {
		return "", ErrBadName
	}
	list, err := m.List()
	if err != nil {
		return "", err
	}
	for _, in := range list {
		if in.App == app && in.Stream == name {
			return safeJoin(m.cfg.Dir, in.File)
		}
	}
	return "", ErrNotFound
}
