package server

import (
	"net/netip"
	"time"
)

// Access says who may publish or play an app's streams. Every rule that is
// set must pass; the zero value lets everyone in. It is checked on the
// connection's event loop before the app's Handler (and before its HTTP
// hooks), for RTMP, HTTP-FLV and WebSocket-FLV alike.
type Access struct {
	// Keys, when not empty, require the request's query to carry key=K with
	// K one of them (rtmp://host/live/NAME?key=K, or the tcUrl's query).
	Keys []string
	// TokenSecret, when set, requires a signed, expiring token in the query
	// (token=...), made by SignToken with this secret for the app and the
	// stream name.
	TokenSecret string
	// TokenBindsIP makes tokens valid only from the client address they
	// were signed for.
	TokenBindsIP bool
	// Allow, when not empty, admits only clients from these networks; Deny
	// refuses clients from these (checked first).
	Allow []netip.Prefix
	Deny  []netip.Prefix
}

// HTTPHooks are HTTP callbacks, as nginx-rtmp's notify module and SRS's
// http_hooks have them: each non-empty field is a URL that receives a POST
// with a JSON body describing the event (HookEvent). For on_connect,
// on_publish and on_play, a 2xx status allows the step and any other
// refuses it, the body's first line being the reason the client sees; a 2xx
// body of {"name": "other"} plays or publishes that name instead. A hook
// that does not answer within Timeout refuses. The *_done hooks are
// notifications. Hooks run off the event loops and never block them.
type HTTPHooks struct {
	OnConnect     string
	OnPublish     string
	OnPlay        string
	OnPublishDone string
	OnPlayDone    string
	OnRecordDone  string
	// Timeout bounds each call (default DefaultHookTimeout).
	Timeout time.Duration
}

// DefaultHookTimeout bounds an HTTP hook call.
const DefaultHookTimeout = 3 * time.Second

// HookEvent is the JSON body of an HTTP hook call.
type HookEvent struct {
	Event    string            `json:"event"` // "on_publish", ...
	App      string            `json:"app"`
	Stream   string            `json:"stream,omitempty"`
	ClientID uint64            `json:"client_id"`
	Peer     string            `json:"peer"`
	Protocol string            `json:"protocol"` // "rtmp", "http", "ws"
	Query    map[string]string `json:"query,omitempty"`
	// For *_done events.
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	Bytes           int64   `json:"bytes,omitempty"`
	File            string  `json:"file,omitempty"` // on_record_done
}
