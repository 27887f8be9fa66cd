package recorder

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/quaverlive/quaver/flvmux"
)

// Info describes a recording on disk, as the Manager's index knows it. A value:
// safe to copy and keep.
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
// the tags, in place. Only files written by Quaver (with their reserved
// metadata tag) are repaired; other FLV files are refused unchanged. Info.File
// is left empty (path is not relative to a record directory). It does disk I/O
// and is for tools (`rtmpd repair`); a Manager repairs its directory in Open.
func Repair(path string, indexCapacity int) (Info, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	return repairFile(f, path, indexCapacity)
}

// repairFile is Repair of the open file f (read-write); name is for messages.
func repairFile(f *os.File, name string, indexCapacity int) (Info, error) {
	if indexCapacity <= 0 {
		indexCapacity = DefaultIndexCapacity
	}
	md, bodyOff, bodyLen, ours, err := headerInfoFile(f, name)
	if err != nil && !ours {
		return Info{}, err
	}
	if !ours {
		return Info{}, fmt.Errorf("recorder: repair %s: not a Quaver recording (no reserved metadata)", name)
	}
	res, err := scan(f)
	if err != nil {
		return Info{}, fmt.Errorf("recorder: repair %s: %w", name, err)
	}
	if res.end > 0 {
		// A PreviousTagSize cut off at the very end is written back.
		st, err := f.Stat()
		if err != nil {
			return Info{}, err
		}
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
	return Info{App: md.App, Stream: md.Stream, Start: time.UnixMilli(md.StartMs).UTC(), Duration: md.Duration,
		Size: res.end, Complete: true}, nil
}
