package chunkcodec

import "errors"

// Sentinel errors. Callers match them with errors.Is; context is added by
// wrapping with %w.
var (
	// Handshake.
	ErrBadVersion        = errors.New("chunkcodec: unsupported RTMP version in C0/S0")
	ErrHandshakeTooLarge = errors.New("chunkcodec: handshake exceeds its byte limit")
	ErrHandshakeDone     = errors.New("chunkcodec: handshake already complete")
	ErrBadDigest         = errors.New("chunkcodec: handshake digest does not verify")
	ErrNotStarted        = errors.New("chunkcodec: client handshake fed before Start")

	// Chunk stream.
	ErrBadChunkStreamID    = errors.New("chunkcodec: chunk stream id out of range")
	ErrNoPreviousHeader    = errors.New("chunkcodec: compressed chunk header without a previous full header")
	ErrMessageTooLarge     = errors.New("chunkcodec: message length exceeds the limit")
	ErrTooManyChunkStreams = errors.New("chunkcodec: too many live chunk streams")
	ErrBadChunkSize        = errors.New("chunkcodec: invalid chunk size")
	ErrChunkSizeTooLarge   = errors.New("chunkcodec: chunk size exceeds the configured cap")
	ErrBufferedTooLarge    = errors.New("chunkcodec: too many bytes held in partial messages")
	ErrBudgetExceeded      = errors.New("chunkcodec: shared partial-message budget exhausted")
	ErrLengthMismatch      = errors.New("chunkcodec: message length changed mid-message")

	// Control message payloads.
	ErrShortPayload = errors.New("chunkcodec: control message payload too short")
)
