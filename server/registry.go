package server

import (
	"fmt"

	"github.com/quaverlive/quaver/internal/registry"
	"github.com/quaverlive/quaver/internal/rtmp"
)

// The stream registry (internal/registry) as the server uses it: streams are
// keyed "app/name", their publisher is the publishing *Session, and each
// connection carries its own registry.NameBudget.

// StreamInfo describes a known stream.
type StreamInfo = registry.Info

// Streams lists known streams. Safe from any goroutine.
func (s *Server) Streams() []StreamInfo { return s.reg.List() }

// StartRecording starts recording a stream that is being published. It is
// asynchronous and safe from any goroutine, including a handler or custom
// command on the publisher's own event loop: the recording attaches on that
// loop shortly after the call returns (a failure to create the file is logged
// and ends only the recording). It fails at once when the stream is not
// being published (ErrNotPublished) or is already being recorded
// (ErrRecording).
func (s *Server) StartRecording(app, name string) error {
	st, p := s.reg.Publisher(app, name)
	pub, _ := p.(*rtmp.Session)
	if pub == nil {
		return fmt.Errorf("%w: %s/%s", ErrNotPublished, app, name)
	}
	if s.reg.Recording(st) != nil {
		return fmt.Errorf("%w: %s/%s", ErrRecording, app, name)
	}
	return pub.RecordAsync(st)
}

// StopRecording stops recording a stream; the file is finished in the
// background. Safe from any goroutine. ErrNotRecording when it is not
// being recorded.
func (s *Server) StopRecording(app, name string) error {
	rec := s.reg.TakeRecording(app, name)
	if rec == nil {
		return fmt.Errorf("%w: %s/%s", ErrNotRecording, app, name)
	}
	rec.Stop()
	return nil
}
