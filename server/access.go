package server

import (
	"crypto/subtle"
	"net/netip"
	"net/url"
	"slices"
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

// Pull makes an app an edge: a play (RTMP, HTTP-FLV or WebSocket-FLV) of a
// stream that is not published here plays it from the first of Origins
// that has it, through one upstream connection per stream however many
// players; players wait for it (a stream no origin has is refused at once
// with NetStream.Play.StreamNotFound, or 404). The upstream closes Linger
// after the last player left (default 5 s) and nothing is pulled while
// nobody watches. If the upstream fails, the origins are tried again with
// backoff while players wait (within the republish grace).
type Pull struct {
	// Origins are app URLs such as rtmp://origin:1935/live (rtmps://
	// too); the stream name is appended.
	Origins []string
	Linger  time.Duration
	// RoundRobin starts each stream's pull at the next origin in turn
	// instead of the first (the others stay its failover).
	RoundRobin bool
	// Static names streams kept pulled from the origins whether or not
	// anyone watches (re-hosting a remote stream), from Start on.
	Static []string
}

// Push forwards every publish of an app to other servers: each target is an
// RTMP URL (rtmp:// or rtmps://) whose {stream} and {app} are replaced by the
// stream's names, published while the stream is, reconnected with backoff,
// behind its own bounded queue (a slow or dead target never touches the
// publisher, the viewers or the other targets).
type Push []string

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

// check reports why a client at peer ("ip:port") asking for app/stream with
// the query arguments q may not pass ("" when it may). Loop-safe: no I/O.
func (a *Access) check(app, stream, peer string, q url.Values, now time.Time) string {
	if len(a.Allow) > 0 || len(a.Deny) > 0 {
		ap, err := netip.ParseAddrPort(peer)
		if err != nil {
			return "address not allowed"
		}
		ip := ap.Addr().Unmap()
		for _, p := range a.Deny {
			if p.Contains(ip) {
				return "address not allowed"
			}
		}
		if len(a.Allow) > 0 && !slices.ContainsFunc(a.Allow, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			return "address not allowed"
		}
	}
	if len(a.Keys) > 0 {
		key := q.Get("key")
		if key == "" || !slices.ContainsFunc(a.Keys, func(k string) bool { return subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 }) {
			return "a valid key is required"
		}
	}
	if a.TokenSecret != "" {
		ip := ""
		if a.TokenBindsIP {
			if ap, err := netip.ParseAddrPort(peer); err == nil {
				ip = ap.Addr().Unmap().String()
			}
		}
		if why := checkToken(a.TokenSecret, q.Get("token"), app, stream, now, ip); why != "" {
			return why
		}
	}
	return ""
}

// open reports whether the rules let everyone in.
func (a *Access) open() bool {
	return len(a.Keys) == 0 && a.TokenSecret == "" && len(a.Allow) == 0 && len(a.Deny) == 0
}

// requestQuery merges a publish or play's own query with the connect's (an
// RTMP client may put ?key= on the tcUrl or on the stream name).
func requestQuery(streamQuery, connectQuery string) url.Values {
	q, _ := url.ParseQuery(streamQuery)
	if connectQuery != "" {
		cq, _ := url.ParseQuery(connectQuery)
		for k, v := range cq {
			if _, ok := q[k]; !ok {
				q[k] = v
			}
		}
	}
	return q
}
