package vod

import (
	"errors"
	"io"

	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// HTTP-FLV and WebSocket-FLV VOD: the file as fast as the client reads it.

// planFile decides what an HTTP or WebSocket play sends: the whole file as it
// is now, or (with ?start=) the FLV header, the metadata and the sequence
// headers followed by the file from the keyframe at or before the start.
func (v *Play) planFile(vf *recorder.File) {
	v.pos, v.end = 0, vf.Size()
	if v.StartMs <= 0 {
		return
	}
	if kpos, k := vf.KeyframeAt(v.StartMs); k >= 0 {
		hdr := vf.Header()
		p := flvmux.AppendFileHeader(nil, hdr.HasAudio, hdr.HasVideo)
		if meta := vf.OnMetaData(); len(meta) > 0 {
			p = flvmux.AppendTag(p, flvmux.TagScript, 0, meta)
		}
		v.prefix = vf.AppendSequenceHeaders(p, uint32(k), flvmux.AppendTag)
		v.pos = kpos
	}
}

// sendFile sends what planFile decided as fast as the client reads it, then
// ends the response.
func (v *Play) sendFile(vf *recorder.File) {
	prefix, pos := v.prefix, v.pos
	ws := v.kind == WS
	rd := make([]byte, BatchBytes)
	var frame []byte
	for {
		var chunk []byte
		if prefix != nil {
			chunk, prefix = prefix, nil
		} else {
			if pos >= v.end {
				break
			}
			n, err := vf.ReadAt(rd[:min(int64(len(rd)), v.end-pos)], pos)
			pos += int64(n)
			if n == 0 {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF // the file shrank: the length sent is wrong
				}
				v.log.Warn("reading recording", "file", vf.Name(), "err", err)
				v.do(opClose, 0, nil, nil)
				return
			}
			chunk = rd[:n]
		}
		if ws {
			frame = wsflv.AppendFrameHeader(frame[:0], true, wsflv.OpBinary, len(chunk))
			frame = append(frame, chunk...)
			chunk = frame
		}
		n, ok := v.do(opWrite, 0, chunk, nil)
		if !ok {
			return
		}
		if !v.backlogOK(n) {
			return
		}
	}
	n := 0
	if ws {
		var ok bool
		if n, ok = v.do(opWSClose, 0, wsflv.AppendClose(frame[:0], wsflv.CloseNormal, "end of recording"), nil); !ok {
			return
		}
	} else {
		var ok bool
		if n, ok = v.do(opProbe, 0, nil, nil); !ok {
			return
		}
	}
	// Close only once the socket took every byte (gnet drops what is still
	// queued when it closes).
	if !v.drain(n, 0) {
		return
	}
	if ws {
		v.timer.Reset(closeGrace)
		select {
		case <-v.timer.C:
		case <-v.ctx.Done(): // the client's close frame closed the connection
			v.timer.Stop()
			return
		}
	}
	v.do(opClose, 0, nil, nil)
}

// ContentLength is the length of what an HTTP play sends (known in OnBegin).
func (v *Play) ContentLength() int64 { return int64(len(v.prefix)) + v.end - v.pos }
