package flvmux

import "errors"

// Sentinel errors. Callers match them with errors.Is; context may be added by
// wrapping with %w. "Need more bytes" is never one of these: fixed-framing
// readers report it as n == 0 and the Reader as a nil tag with all bytes
// consumed.
var (
	// File and tag framing.
	ErrBadSignature  = errors.New("flvmux: file header does not start with \"FLV\"")
	ErrBadDataOffset = errors.New("flvmux: file header DataOffset out of range")
	ErrTagType       = errors.New("flvmux: tag type is not audio, video or script data")
	ErrTagTooLarge   = errors.New("flvmux: tag DataSize exceeds the limit")

	// Audio and video tag headers.
	ErrShortVideoHeader = errors.New("flvmux: video tag header truncated")
	ErrShortAudioHeader = errors.New("flvmux: audio tag header truncated")

	// Script data.
	ErrNotOnMetaData = errors.New("flvmux: script data is not onMetaData")
	ErrBadMetadata   = errors.New("flvmux: onMetaData value is malformed")
)
