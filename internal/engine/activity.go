package engine

import (
	"errors"
	"log/slog"
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/internal/mediainfo"
	"github.com/quaverlive/quaver/netpoll"
)

// What a connection does, as operators see it (the admin API, the metrics,
// the publish and play summaries in the log). The protocol sessions record
// it with one call when a publish or play starts (SetActivity) and ends
// (EndPublish, EndPlay); the admin goroutine reads it through an atomic
// pointer to an immutable Activity, so reads are race-free and the loop
// never waits for a reader.

// Role is a connection's part in a stream.
type Role uint8

// Roles.
const (
	RoleNone      Role = iota // connected, neither publishing nor playing
	RolePublisher             // publishing a live stream
	RolePlayer                // playing a live stream or a recording
)

// String names the role in the admin API's words.
func (r Role) String() string {
	switch r {
	case RolePublisher:
		return "publisher"
	case RolePlayer:
		return "player"
	}
	return ""
}

// Activity is a snapshot of what a session does. It is immutable once
// stored; SetActivity replaces it whole.
type Activity struct {
	Role     Role
	Protocol string // "rtmp", "http" or "ws"
	App      string
	Name     string
	Since    time.Time // when the publish or play started
	// BytesIn is the session's BytesIn when the publish started: bytes
	// received for this publish are the difference.
	BytesIn uint64
	// Media is the stream's media as announced once the publish's sequence
	// headers arrived (AnnounceMedia); zero until then.
	Media mediainfo.Info
}

// Key is the stream key "app/name" ("" without a stream).
func (a *Activity) Key() string {
	if a.Name == "" {
		return ""
	}
	return a.App + "/" + a.Name
}

// SetActivity records that the session now has role on app/name over
// protocol (loop-only; one small allocation per publish or play, none on the
// media path).
func (s *Session) SetActivity(role Role, protocol, app, name string) {
	s.activity.Store(&Activity{Role: role, Protocol: protocol, App: app, Name: name, Since: time.Now(), BytesIn: s.BytesIn.Load()})
}

// Activity returns what the session does now, or nil before connect or a
// play. Any goroutine; the result must not be modified.
func (s *Session) Activity() *Activity { return s.activity.Load() }

// publishSettle is how long after a publish starts its media is announced
// even when a sequence header is still missing (an audio-only or video-only
// stream).
const publishSettle = 3 * time.Second

// AnnounceMedia logs the codecs, picture size and frame rate of the stream
// the session publishes, once: when both sequence headers are there, or
// publishSettle after the publish started (loop-only; from OnTick, so the
// media path is untouched).
func (s *Session) AnnounceMedia(fs *fanout.Stream, now time.Time) {
	a := s.activity.Load()
	if a == nil || a.Role != RolePublisher || s.announced {
		return
	}
	var haveVideo, haveAudio bool
	var in mediainfo.Info
	fs.CodecState(func(meta, video, audio []byte) {
		haveVideo, haveAudio = video != nil, audio != nil
		in = mediainfo.Describe(meta, video, audio)
	})
	if !(haveVideo && haveAudio) && now.Sub(a.Since) < publishSettle {
		return
	}
	s.announced = true
	b := *a
	b.Media = in
	s.activity.Store(&b)
	s.Log.Info("publish media", append([]any{"stream", a.Key()}, mediaAttrs(in)...)...)
}

// EndPublish logs the end of the session's publish of fs with its duration,
// bytes, average bitrate and media, and clears the activity (loop-only; call
// before the stream's publish ends, which drops its codec state).
func (s *Session) EndPublish(fs *fanout.Stream) {
	a := s.activity.Load()
	if a == nil || a.Role != RolePublisher {
		return
	}
	s.activity.Store(&Activity{Protocol: a.Protocol, App: a.App})
	s.announced = false
	in := a.Media
	if in == (mediainfo.Info{}) {
		in = mediainfo.Of(fs)
	}
	d := time.Since(a.Since)
	n := s.BytesIn.Load() - a.BytesIn
	attrs := []any{"stream", a.Key(), "duration", d.Round(time.Millisecond), "bytes", n, "bitrate_kbps", kbps(n, d)}
	s.Log.Info("publish ended", append(attrs, mediaAttrs(in)...)...)
}

// EndPlay logs the end of the session's play with its duration, the bytes
// its connection was sent, and why it ended (nil: the player stopped or
// left), and clears the activity (loop-only).
func (s *Session) EndPlay(reason error) {
	a := s.activity.Load()
	if a == nil || a.Role != RolePlayer {
		return
	}
	s.activity.Store(&Activity{Protocol: a.Protocol, App: a.App})
	why := "stopped"
	switch {
	case reason == nil:
	case errors.Is(reason, netpoll.ErrStopped):
		why = "server stopped"
	case IsPeerGone(reason):
		why = "peer left"
	default:
		why = reason.Error()
	}
	s.Log.Info("play ended", "stream", a.Key(), "via", a.Protocol, "duration", time.Since(a.Since).Round(time.Millisecond), "bytes", s.BytesOut(), "reason", why)
}

// PlayEndReason is why a play ends: the subscriber's own error when the
// fanout cut it off for being slow, else err (the connection's).
func PlayEndReason(sub *fanout.Subscriber, err error) error {
	if sub != nil {
		if e := sub.Err(); errors.Is(e, fanout.ErrSlowSubscriber) {
			return e
		}
	}
	return err
}

func kbps(bytes uint64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(bytes) * 8 / d.Seconds() / 1000)
}

// mediaAttrs are the log fields of a stream's media (unknown ones left out).
func mediaAttrs(in mediainfo.Info) []any {
	var a []any
	if in.VideoCodec != "" {
		a = append(a, slog.String("video", in.VideoCodec))
	}
	if in.Width > 0 {
		a = append(a, slog.Int("width", in.Width), slog.Int("height", in.Height))
	}
	if in.FrameRate > 0 {
		a = append(a, slog.Float64("fps", in.FrameRate))
	}
	if in.AudioCodec != "" {
		a = append(a, slog.String("audio", in.AudioCodec))
	}
	return a
}
