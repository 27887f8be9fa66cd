package recorder

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/flvmux"
)

// fileMeta is what a recording's onMetaData says beyond flvmux.Metadata.
type fileMeta struct {
	flvmux.Metadata
	Complete bool   // false while recording: a crash leaves it false
	StartMs  int64  // wall-clock start, Unix milliseconds
	App      string // app and stream the recording belongs to
	Stream   string
}

// Metadata property names Quaver adds.
const (
	propComplete = "quaverComplete"
	propStart    = "quaverStartMs"
	propApp      = "quaverApp"
	propStream   = "quaverStream"
)

// reservedSize is the fixed size of a recording's onMetaData body for an index of
// capacity keyframes: about 600 bytes of fields plus two strict arrays of numbers.
func reservedSize(capacity int) int {
	return 1024 + 2*9*capacity
}

// encodeMeta encodes md as an onMetaData body of exactly size bytes, thinning the
// keyframe index if it does not fit and padding with a string property.
func encodeMeta(dst []byte, md *fileMeta, size int) ([]byte, error) {
	kf := md.Keyframes
	for {
		body := appendMeta(dst[:0], md, kf)
		free := size - len(body)
		switch {
		case free >= 5:
			// One AMF0 long string after the ECMA array: parsers read the name and
			// the array and skip the rest of the tag. (FFmpeg refuses strings over
			// 255 bytes inside the array, so the padding must not go there.)
			n := free - 5
			body = append(body, 0x0C, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			for range n {
				body = append(body, ' ')
			}
			return body, nil
		case free >= 0:
			for range free {
				body = append(body, 0x05) // AMF0 null
			}
			return body, nil
		}
		if len(kf.Times) < 2 {
			return nil, fmt.Errorf("recorder: metadata does not fit in %d bytes", size)
		}
		// Keep every other keyframe: seeking gets coarser, never wrong.
		kf = thin(kf)
	}
}

func thin(k flvmux.Keyframes) flvmux.Keyframes {
	var out flvmux.Keyframes
	for i := 0; i < len(k.Times); i += 2 {
		out.Times = append(out.Times, k.Times[i])
		out.FilePositions = append(out.FilePositions, k.FilePositions[i])
	}
	return out
}

func appendMeta(dst []byte, md *fileMeta, kf flvmux.Keyframes) []byte {
	m := md.Metadata
	m.Keyframes = kf
	body := flvmux.AppendOnMetaData(dst, &m)
	body = body[:len(body)-3]
	body = amf0.AppendPropBool(body, propComplete, md.Complete)
	body = amf0.AppendPropNumber(body, propStart, float64(md.StartMs))
	body = amf0.AppendPropString(body, propApp, md.App)
	body = amf0.AppendPropString(body, propStream, md.Stream)
	body = amf0.AppendObjectEnd(body)
	// Fix the ECMA array's advisory count: onMetaData string is 13 bytes, then
	// the 0x08 marker and a 4-byte count.
	n := binary.BigEndian.Uint32(body[14:18])
	binary.BigEndian.PutUint32(body[14:18], n+4)
	return body
}

// readMeta decodes a recording's onMetaData body (any onMetaData body is read;
// the Quaver fields stay zero for files from elsewhere).
func readMeta(body []byte, md *fileMeta) (ours bool, err error) {
	var doc amf0.Document
	// Only the name and the array: padding may follow them.
	n1, err := doc.DecodeOne(body)
	if err != nil {
		return false, err
	}
	n2, err := doc.DecodeOne(body[n1:])
	if err != nil {
		return false, err
	}
	if err := flvmux.ReadOnMetaData(body[:n1+n2], &doc, &md.Metadata); err != nil {
		return false, err
	}
	arr := doc.At(1)
	if c := arr.Get(propComplete); c.Valid() {
		ours = true
		md.Complete = c.Bool()
	}
	md.StartMs = int64(arr.Get(propStart).Number())
	md.App = arr.Get(propApp).Str()
	md.Stream = arr.Get(propStream).Str()
	return ours, nil
}

// headerInfoFile reads the FLV header and first tag of f (path names it in
// errors): the recording's metadata, where its body starts and how long it is.
func headerInfoFile(f *os.File, path string) (md fileMeta, bodyOff int64, bodyLen int, ours bool, err error) {
	head := make([]byte, 64<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	_, hn, err := flvmux.ReadFileHeader(head)
	if err != nil || hn == 0 {
		return md, 0, 0, false, fmt.Errorf("recorder: %s: not an FLV file", path)
	}
	th, tn, err := flvmux.ReadTagHeader(head[hn:])
	if err != nil || tn == 0 || th.Type != flvmux.TagScript {
		return md, 0, 0, false, fmt.Errorf("recorder: %s: no metadata tag", path)
	}
	bodyOff = int64(hn + tn)
	bodyLen = int(th.DataSize)
	body := make([]byte, bodyLen)
	if _, err := f.ReadAt(body, bodyOff); err != nil {
		return md, 0, 0, false, fmt.Errorf("recorder: %s: short metadata tag", path)
	}
	ours, err = readMeta(body, &md)
	return md, bodyOff, bodyLen, ours, err
}
