package vod

import (
	"errors"
	"io"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/internal/rtmpmsg"
	"github.com/quaverlive/quaver/recorder"
)

// RTMP VOD: the recording as RTMP messages, paced at real time.

// appendTag encodes a tag as an RTMP message of the play.
func (v *Play) appendTag(dst []byte, typ uint8, ts uint32, data []byte) []byte {
	csid := chunkcodec.ChunkStreamFor(typ)
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{ChunkStreamID: csid, Timestamp: ts, TypeID: typ, StreamID: v.StreamID}, data, v.ChunkSize)
}

// appendEnd encodes the end of the recording (rtmpmsg.AppendPlayEnd).
func (v *Play) appendEnd(dst []byte, ts uint32) []byte {
	var scratch []byte
	return rtmpmsg.AppendPlayEnd(dst, &scratch, v.StreamID, v.ChunkSize, ts, v.req.Name, v.file.Metadata().Duration, v.file.Size())
}

// paceRTMP sends the recording at real time, following seeks, pauses and
// buffer length changes, until the play is stopped.
func (v *Play) paceRTMP(vf *recorder.File) {
	src := vf.Tags()
	var batch []byte
	var gen uint32
	var pending *flvmux.Tag // next tag, not yet due; valid until src.Next
	clockBase := int64(-1)  // media time (ms) at clockStart; -1: the first tag's
	clockStart := time.Now()
	paused := false
	var pausedAt int64
	atEnd, endSent := false, false
	var lastTS uint32

	playhead := func(now time.Time) int64 { return clockBase + now.Sub(clockStart).Milliseconds() }
	position := func(ms float64) {
		_, k := vf.KeyframeAt(ms) // leaves src at the keyframe
		pending = nil
		if k >= 0 {
			batch = vf.AppendSequenceHeaders(batch, uint32(k), func(dst []byte, typ uint8, ts uint32, data []byte) []byte {
				return v.appendTag(dst, typ, ts, data)
			})
			clockBase = int64(k)
		} else {
			clockBase = -1
		}
		clockStart = time.Now()
		atEnd, endSent = false, false
	}
	if v.StartMs > 0 {
		position(v.StartMs)
	} else {
		src.SeekTag(vf.FirstTag())
	}
	for {
		v.mu.Lock()
		seek, sgen, wantPause, bufMs := v.seekMs, v.seekGen, v.paused, v.bufMs
		v.seekMs = -1
		v.mu.Unlock()
		if bufMs == 0 {
			bufMs = DefaultBufferLength
		}
		bufMs = min(bufMs, MaxBufferLength)
		if seek >= 0 {
			gen = sgen
			batch = batch[:0]
			position(seek)
			if paused {
				pausedAt = max(clockBase, 0)
			}
		}
		now := time.Now()
		if wantPause != paused {
			if wantPause {
				pausedAt = playhead(now)
			} else {
				clockBase, clockStart = pausedAt, now
			}
			paused = wantPause
		}
		if !paused {
			horizon := playhead(now) + int64(bufMs) + lead
			for !atEnd && len(batch) < BatchBytes {
				if pending == nil {
					t, _, err := src.Next()
					if err != nil {
						if !errors.Is(err, io.EOF) {
							v.log.Warn("reading recording", "file", vf.Name(), "err", err)
						}
						atEnd = true
						break
					}
					pending = t
					if clockBase < 0 {
						clockBase, clockStart = int64(t.Timestamp), now
						horizon = playhead(now) + int64(bufMs) + lead
					}
				}
				if int64(pending.Timestamp) > horizon {
					break
				}
				batch = v.appendTag(batch, pending.Type, pending.Timestamp, pending.Data)
				lastTS = max(lastTS, pending.Timestamp)
				pending = nil
			}
			// The end goes out when the playhead reaches the last tag, not
			// when the last tag has been sent: a player that reconnects as
			// soon as it reads NetStream.Play.Stop (GStreamer's rtmpsrc
			// with librtmp does whenever the bytes before it do not fill
			// its last 4096-byte block) then replays the recording at most
			// once per its duration instead of as fast as the connection
			// carries it.
			if atEnd && !endSent && (clockBase < 0 || playhead(time.Now()) >= int64(lastTS)) {
				batch = v.appendEnd(batch, lastTS)
				endSent = true
			}
		}
		if len(batch) > 0 {
			n, ok := v.do(opWrite, gen, batch, nil)
			batch = batch[:0]
			if !ok {
				return
			}
			if !v.backlogOK(n) {
				return
			}
			continue
		}
		wait := time.Duration(-1)
		if !paused && !atEnd && pending != nil {
			due := int64(pending.Timestamp) - int64(bufMs) - lead - clockBase
			wait = max(time.Until(clockStart.Add(time.Duration(due)*time.Millisecond)), 0)
		} else if !paused && atEnd && !endSent {
			due := int64(lastTS) - clockBase
			wait = max(time.Until(clockStart.Add(time.Duration(due)*time.Millisecond)), 0)
		}
		if !v.sleep(wait) {
			return
		}
	}
}
