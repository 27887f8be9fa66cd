package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// RepublishPolicy says what happens when a second publisher claims a live stream.
type RepublishPolicy uint8

// Republish policies.
const (
	// RepublishReject refuses the newcomer with NetStream.Publish.BadName. An
	// encoder reconnecting after a network drop gets on air once the old
	// connection is dropped for idleness (App.PublisherIdleTimeout).
	RepublishReject RepublishPolicy = iota
	// RepublishReplace closes the old publisher and lets the newcomer continue
	// the stream; players stay attached and see continuous timestamps.
	RepublishReplace
)

// DefaultPublisherIdleTimeout drops a publisher that sends no media this long.
const DefaultPublisherIdleTimeout = 5 * time.Second

// App is one application: the first path element of rtmp://host/<app>/<stream>.
// Register it with Server.Handle before Start; its fields must not change after.
type App struct {
	// Handler hooks connect, publish, play, unpublish and close. Nil accepts all.
	Handler Handler
	// DisableGOPCache makes joining players wait for the next keyframe instead of
	// starting from the last one.
	DisableGOPCache bool
	// Republish is the policy for a second publisher of a live stream.
	Republish RepublishPolicy
	// PublisherIdleTimeout drops a publisher that sends no audio or video for
	// this long (0: DefaultPublisherIdleTimeout).
	PublisherIdleTimeout time.Duration
	// Record records every publish of the app (handlers can change it per
	// stream in OnPublish, or use Server.StartRecording / StopRecording).
	Record bool
	// Publish and Play say who may publish and play (keys, signed tokens,
	// networks); checked before Handler. The zero value lets everyone in.
	Publish, Play Access
	// Hooks are HTTP callbacks for connect, publish, play and their ends.
	Hooks HTTPHooks
	// VOD serves the app's recordings: a play (RTMP, HTTP-FLV or
	// WebSocket-FLV) of a name nobody publishes plays its newest recording.
	// Off by default: recordings are not public unless the app says so.
	VOD bool
	// Pull, when set, makes the app an edge of the origins it lists.
	Pull *Pull
	// Push forwards every publish to these targets.
	Push Push

	commands map[string]CommandFunc
	messages map[uint8]MessageFunc
}

// CommandFunc handles a custom RTMP command (an AMF0 or AMF3 command message
// whose name the server does not know). It runs on the connection's event loop
// and must not block. Returning an error sends an _error reply with the error's
// text as the description; otherwise the reply is whatever Call.Reply set, or a
// bare _result when the client expects one (transaction id > 0).
type CommandFunc func(c *Call) error

// MessageFunc handles a custom RTMP message type. It runs on the connection's
// event loop and must not block; m is valid only during the call. A non-nil error
// closes the connection.
type MessageFunc func(s *Session, m *chunkcodec.Message) error

// HandleCommand registers fn for the command name. Built-in commands cannot be
// overridden this way; use Handler hooks for those.
func (a *App) HandleCommand(name string, fn CommandFunc) {
	if a.commands == nil {
		a.commands = map[string]CommandFunc{}
	}
	a.commands[name] = fn
}

// HandleMessage registers fn for messages of typeID. Protocol control (1-6),
// audio (8), video (9), data (15, 18), command (17, 20) and aggregate (22) types
// are reserved.
func (a *App) HandleMessage(typeID uint8, fn MessageFunc) error {
	switch typeID {
	case 1, 2, 3, 4, 5, 6, 8, 9, 15, 17, 18, 20, 22:
		return fmt.Errorf("server: message type %d is reserved", typeID)
	}
	if a.messages == nil {
		a.messages = map[uint8]MessageFunc{}
	}
	a.messages[typeID] = fn
	return nil
}

func (a *App) publisherIdle() time.Duration {
	if a.PublisherIdleTimeout > 0 {
		return a.PublisherIdleTimeout
	}
	return DefaultPublisherIdleTimeout
}

// Handler hooks an app's connection life cycle, Harmonic's controllers in Go
// idiom. Methods run on the connection's event loop and must not block. Returning
// an error rejects the step: the client receives an error status whose description
// is the error text (use Reject for a plain reason). Embed BaseHandler to override
// only what you need.
type Handler interface {
	// OnConnect runs for the connect command.
	OnConnect(s *Session, req *ConnectRequest) error
	// OnPublish runs for publish; it may rewrite req.Name.
	OnPublish(s *Session, req *StreamRequest) error
	// OnPlay runs for play (RTMP, and WebSocket/HTTP-FLV plays); it may rewrite req.Name.
	OnPlay(s *Session, req *StreamRequest) error
	// OnUnpublish runs when a publisher stops (cleanly or not).
	OnUnpublish(s *Session, req *StreamRequest)
	// OnClose runs when a connection that passed OnConnect closes.
	OnClose(s *Session)
}

// BaseHandler accepts everything. Embed it in your handler.
type BaseHandler struct{}

// OnConnect accepts.
func (BaseHandler) OnConnect(*Session, *ConnectRequest) error { return nil }

// OnPublish accepts.
func (BaseHandler) OnPublish(*Session, *StreamRequest) error { return nil }

// OnPlay accepts.
func (BaseHandler) OnPlay(*Session, *StreamRequest) error { return nil }

// OnUnpublish does nothing.
func (BaseHandler) OnUnpublish(*Session, *StreamRequest) {}

// OnClose does nothing.
func (BaseHandler) OnClose(*Session) {}

// ConnectRequest describes a connect command.
type ConnectRequest struct {
	App      string     // app name, without query string
	Query    string     // query string from the app field or tcUrl, without '?'
	TCURL    string     // tcUrl
	FlashVer string     // flashVer
	PageURL  string     // pageUrl
	Object   amf0.Value // the whole command object; valid only during OnConnect
}

// StreamRequest describes a publish or play.
type StreamRequest struct {
	App   string // app name
	Name  string // stream name without query string; handlers may rewrite it
	Query string // query string after '?', e.g. "token=abc"
	Type  string // publish type ("live", "record", "append") or play kind ("rtmp", "ws", "http")
	// Record, for a publish, says whether to record it. It starts as the app's
	// Record setting; OnPublish may change it for this stream.
	Record bool
	// Started is when the publish or play was asked for.
	Started time.Time
}

// RejectError is returned by handlers to refuse a step with a reason.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return e.Reason }

// Reject returns an error whose text the client sees as the status description.
func Reject(format string, args ...any) error {
	return &RejectError{Reason: fmt.Sprintf(format, args...)}
}

// IsReject reports whether err is (or wraps) a RejectError.
func IsReject(err error) bool {
	var r *RejectError
	return errors.As(err, &r)
}
