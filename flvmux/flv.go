package flvmux

import "encoding/binary"

// FLV tag types (FLV v10.1, E.4.1, TagType).
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

// Sizes and limits of the FLV container.
const (
	// FileHeaderSize is the size of a version 1 FLV header (E.2) and its
	// DataOffset value.
	FileHeaderSize = 9
	// TagHeaderSize is the size of an FLV tag header (E.4.1).
	TagHeaderSize = 11
	// PrevTagSizeLen is the size of a PreviousTagSize field (E.3).
	PrevTagSizeLen = 4
	// DefaultMaxTagSize is the Reader's default cap on a tag's DataSize. The
	// field is 24 bits wide, so no tag can exceed MaxDataSize anyway; lower
	// it for untrusted peers.
	DefaultMaxTagSize = 16 << 20
	// MaxDataSize is the largest DataSize the 24-bit field can carry.
	MaxDataSize = 1<<24 - 1
	// MaxDataOffset is the largest file header DataOffset accepted. Version 1
	// files use 9; a larger value means the header has extension bytes,
	// which are skipped.
	MaxDataOffset = 1024
)

// Flags of the FLV header's TypeFlags byte.
const (
	flagVideo = 0x01
	flagAudio = 0x04
)

// FileHeader is the FLV file header (FLV v10.1, E.2).
type FileHeader struct {
	// Version is the file version; 1 for every file written so far.
	Version uint8
	// HasAudio and HasVideo are the TypeFlagsAudio and TypeFlagsVideo bits.
	// Players must not rely on them; they are hints.
	HasAudio, HasVideo bool
	// DataOffset is the size of the header in bytes, 9 for version 1.
	DataOffset uint32
}

// AppendFileHeader appends a version 1 FLV header followed by
// PreviousTagSize0 (always 0), 13 bytes in all, and returns the extended
// slice. It does not allocate when dst has room.
func AppendFileHeader(dst []byte, hasAudio, hasVideo bool) []byte {
	var flags byte
	if hasAudio {
		flags |= flagAudio
	}
	if hasVideo {
		flags |= flagVideo
	}
	return append(dst, 'F', 'L', 'V', 1, flags, 0, 0, 0, FileHeaderSize, 0, 0, 0, 0)
}

// ReadFileHeader parses an FLV header at the start of b. It consumes the
// header, any extension bytes up to DataOffset and PreviousTagSize0, so n is
// DataOffset+4 (13 for version 1 files), mirroring AppendFileHeader. When b
// holds fewer bytes than that, it returns n == 0 and a nil error: call again
// with more bytes. The value of PreviousTagSize0 is not checked.
func ReadFileHeader(b []byte) (FileHeader, int, error) {
	if len(b) < FileHeaderSize {
		return FileHeader{}, 0, nil
	}
	h, err := parseFileHeader(b)
	if err != nil {
		return FileHeader{}, 0, err
	}
	n := int(h.DataOffset) + PrevTagSizeLen
	if len(b) < n {
		return FileHeader{}, 0, nil
	}
	return h, n, nil
}

// parseFileHeader validates the first FileHeaderSize bytes of b.
func parseFileHeader(b []byte) (FileHeader, error) {
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return FileHeader{}, ErrBadSignature
	}
	h := FileHeader{
		Version:    b[3],
		HasAudio:   b[4]&flagAudio != 0,
		HasVideo:   b[4]&flagVideo != 0,
		DataOffset: binary.BigEndian.Uint32(b[5:9]),
	}
	if h.DataOffset < FileHeaderSize || h.DataOffset > MaxDataOffset {
		return FileHeader{}, ErrBadDataOffset
	}
	return h, nil
}

// TagHeader is an FLV tag header (FLV v10.1, E.4.1).
type TagHeader struct {
	// Type is TagAudio, TagVideo or TagScript.
	Type uint8
	// Filter is set when the tag's data is pre-processed (encrypted); the
	// data then starts with an EncryptionHeader this package does not parse.
	Filter bool
	// DataSize is the number of data bytes after the header.
	DataSize uint32
	// Timestamp is the tag time in milliseconds, with TimestampExtended as
	// its upper 8 bits.
	Timestamp uint32
	// StreamID is always 0 in conforming files; it is reported as found.
	StreamID uint32
}

// AppendTagHeader appends an 11-byte FLV tag header and returns the extended
// slice. dataSize must not exceed MaxDataSize (its upper 8 bits are
// dropped); the upper 8 bits of timestamp go to TimestampExtended. StreamID
// is 0 and Filter is clear. It does not allocate when dst has room.
func AppendTagHeader(dst []byte, tagType uint8, dataSize uint32, timestamp uint32) []byte {
	return append(dst,
		tagType&0x1f,
		byte(dataSize>>16), byte(dataSize>>8), byte(dataSize),
		byte(timestamp>>16), byte(timestamp>>8), byte(timestamp), byte(timestamp>>24),
		0, 0, 0)
}

// ReadTagHeader parses an FLV tag header at the start of b and returns it
// with n == TagHeaderSize. When b is shorter than TagHeaderSize it returns
// n == 0 and a nil error. It fails with ErrTagType when the tag type is not
// audio, video or script data (a sign of a corrupt or desynchronised
// stream); the two reserved bits are ignored.
func ReadTagHeader(b []byte) (TagHeader, int, error) {
	if len(b) < TagHeaderSize {
		return TagHeader{}, 0, nil
	}
	h := parseTagHeader(b)
	if h.Type != TagAudio && h.Type != TagVideo && h.Type != TagScript {
		return TagHeader{}, 0, ErrTagType
	}
	return h, TagHeaderSize, nil
}

// parseTagHeader decodes the first TagHeaderSize bytes of b without checks.
func parseTagHeader(b []byte) TagHeader {
	_ = b[10]
	return TagHeader{
		Type:      b[0] & 0x1f,
		Filter:    b[0]&0x20 != 0,
		DataSize:  uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]),
		Timestamp: uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]),
		StreamID:  uint32(b[8])<<16 | uint32(b[9])<<8 | uint32(b[10]),
	}
}

// AppendPrevTagSize appends a 4-byte PreviousTagSize field (E.3) and returns
// the extended slice. For a tag, size is TagHeaderSize plus its DataSize.
func AppendPrevTagSize(dst []byte, size uint32) []byte {
	return binary.BigEndian.AppendUint32(dst, size)
}

// AppendTag appends a complete tag: its header, data and the
// PreviousTagSize that follows it, and returns the extended slice. len(data)
// must not exceed MaxDataSize. The same bytes can be written to any number
// of FLV files or HTTP-FLV/WebSocket-FLV subscribers. It does not allocate
// when dst has room for TagHeaderSize+len(data)+PrevTagSizeLen more bytes.
func AppendTag(dst []byte, tagType uint8, timestamp uint32, data []byte) []byte {
	dst = AppendTagHeader(dst, tagType, uint32(len(data)), timestamp)
	dst = append(dst, data...)
	return AppendPrevTagSize(dst, uint32(TagHeaderSize+len(data)))
}

// TagSize returns the number of bytes AppendTag writes for dataLen bytes of
// data: TagHeaderSize + dataLen + PrevTagSizeLen.
func TagSize(dataLen int) int { return TagHeaderSize + dataLen + PrevTagSizeLen }
