package wsflv

import "errors"

// Sentinel errors.
var (
	ErrHeaderTooLarge  = errors.New("wsflv: request head exceeds the limit")
	ErrBadRequest      = errors.New("wsflv: malformed HTTP request")
	ErrTooManyHeaders  = errors.New("wsflv: too many header fields")
	ErrUnmasked        = errors.New("wsflv: client frame is not masked")
	ErrControlTooLarge = errors.New("wsflv: control frame payload over 125 bytes")
	ErrFragmentedCtrl  = errors.New("wsflv: fragmented control frame")
	ErrFrameTooLarge   = errors.New("wsflv: client frame exceeds the limit")
	ErrReservedBits    = errors.New("wsflv: reserved bits set without an extension")
	ErrBadOpcode       = errors.New("wsflv: reserved opcode")
	ErrNotUpgrade      = errors.New("wsflv: not a WebSocket upgrade")
	ErrFragmentation   = errors.New("wsflv: data frame out of fragmentation sequence")
	ErrBadClose        = errors.New("wsflv: malformed close frame payload")
)
