package engine

import "errors"

// Why a session closes a connection. The server package re-exports them.
var (
	ErrUnknownApp     = errors.New("server: unknown app")
	ErrHandshakeSlow  = errors.New("server: handshake timeout")
	ErrIdle           = errors.New("server: idle timeout")
	ErrPublisherIdle  = errors.New("server: publisher sent no media within the idle timeout")
	ErrTooManyStreams = errors.New("server: too many streams on one connection")
	ErrReplaced       = errors.New("server: publisher replaced by a new one")
	ErrProtocol       = errors.New("server: protocol violation")
	ErrShutdown       = errors.New("server: shutting down")
	ErrOutboundFull   = errors.New("server: peer reads too slowly (outbound backlog over its cap)")
	ErrPartialTimeout = errors.New("server: message not completed within the partial-message timeout")
	// ErrStreamNotFound refuses a play of a stream nobody has (an edge's
	// origins included): RTMP players get NetStream.Play.StreamNotFound,
	// HTTP players 404.
	ErrStreamNotFound = errors.New("stream not found")
)
