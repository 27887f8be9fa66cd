package vod

import (
	"bytes"
	"errors"
	"io"

	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/wsflv"
)

// HTTP-FLV and WebSocket-FLV VOD: the file as fast as the client reads it.

// httpPart is how an HTTP play answers the request's Range field (RFC 9110
// section 14). The field is set before Start; planFile, on the play's
// goroutine, fills in the rest before OnBegin, which reads it on the loop.
type httpPart struct {
	field []byte            // the Range field value (a copy); nil: none
	size  int64             // the size of the whole representation
	res   wsflv.RangeResult // what is sent: all of it, a range, or nothing (416)
	r     wsflv.ByteRange   // the range sent with RangePartial
}

// SetRange gives an HTTP play the value of the request's Range field, which
// it copies; nil when the request has none or the session ignores it (an
// If-Range, several Range fields). The range applies to the representation
// the URL names: the file, or with ?start= what the play sends instead (the
// headers it synthesizes, then the file from a keyframe), so that a client
// seeking in either gets bytes of the same whole. WebSocket plays have no
// ranges. Set it before Start (loop-only).
func (v *Play) SetRange(field []byte) {
	v.part.field = bytes.Clone(field)
}

// Part returns, once the recording is open (in OnBegin and after), the size
// of the whole representation and how the Range field applies to it: with
// wsflv.RangePartial the play sends r, with wsflv.RangeUnsatisfiable nothing,
// else all of it (loop-only).
func (v *Play) Part() (r wsflv.ByteRange, res wsflv.RangeResult, size int64) {
	return v.part.r, v.part.res, v.part.size
}

// planFile decides what an HTTP or WebSocket play sends: the whole file as it
// is now, or (with ?start=) the FLV header, the metadata and the sequence
// headers followed by the file from the keyframe at or before the start; then
// of that, the byte range the request asked for (SetRange).
func (v *Play) planFile(vf *recorder.File) {
	v.pos, v.end = 0, vf.Size()
	if v.StartMs > 0 {
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
	v.part.size = v.ContentLength()
	if v.kind != HTTP {
		return
	}
	v.part.r, v.part.res = wsflv.ParseRange(v.part.field, v.part.size)
	switch v.part.res {
	case wsflv.RangePartial:
		v.prefix, v.pos, v.end = cutRange(v.prefix, v.pos, v.end, v.part.r)
	case wsflv.RangeUnsatisfiable:
		v.prefix, v.pos = nil, v.end
	}
}

// cutRange returns the part of the representation prefix + file[pos:end]
// that is the byte range r (inside it): the part of the prefix (nil when
// none) and the file span.
func cutRange(prefix []byte, pos, end int64, r wsflv.ByteRange) ([]byte, int64, int64) {
	lo, hi := r.First, r.Last+1 // [lo, hi) of the representation
	np := int64(len(prefix))
	if lo < np {
		prefix = prefix[lo:min(hi, np)]
	} else {
		prefix = nil
	}
	return prefix, pos + max(lo-np, 0), pos + max(hi-np, 0)
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
