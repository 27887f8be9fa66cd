package client

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them (or a
// network error, or io.EOF when the server closed the connection); match with
// errors.Is. A refusal by the server is a *StatusError, which also matches
// ErrStatus.
var (
	// ErrBadURL reports an RTMP URL that cannot be parsed.
	ErrBadURL = errors.New("client: bad RTMP URL")
	// ErrUnsupportedScheme reports a URL scheme other than rtmp (it wraps ErrBadURL).
	ErrUnsupportedScheme = errors.New("client: unsupported URL scheme (only rtmp)")
	// ErrTimeout reports that an operation did not finish within its timeout
	// (Config.HandshakeTimeout, Config.Timeout, or a read deadline).
	ErrTimeout = errors.New("client: timeout")
	// ErrClosed reports use of a closed Conn.
	ErrClosed = errors.New("client: connection closed")
	// ErrProtocol reports a malformed message or reply from the server.
	ErrProtocol = errors.New("client: protocol error")
	// ErrStatus is matched by every *StatusError: the server refused a
	// command with an error status or an _error reply.
	ErrStatus = errors.New("client: error status from server")
	// ErrNotPublishing reports WriteMessage or WriteMetaData before Publish succeeded.
	ErrNotPublishing = errors.New("client: not publishing")
	// ErrStreamActive reports Publish or Play on a Conn that already publishes or plays.
	ErrStreamActive = errors.New("client: connection already publishes or plays a stream")
	// ErrBadArgument reports a Call argument that cannot be encoded as AMF0.
	ErrBadArgument = errors.New("client: argument cannot be encoded as AMF0")
	// ErrMessageType reports WriteMessage with a protocol control or command type id.
	ErrMessageType = errors.New("client: message type not allowed in WriteMessage")
)
