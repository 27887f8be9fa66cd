package relay

import (
	"sync"
	"time"
)

// Info describes one relay for operators (the admin API): a pull from an
// origin or a push to a target.
type Info struct {
	Kind       string    `json:"kind"`   // "pull" or "push"
	Stream     string    `json:"stream"` // app/name (pull), or the target's path (push)
	Target     string    `json:"target"` // the origin or target URL in use
	State      string    `json:"state"`  // "connecting", "playing", "pushing", "retrying"
	Since      time.Time `json:"since"`  // when the state began
	Bytes      uint64    `json:"bytes"`  // bytes received (pull) or queued for sending (push)
	Reconnects int       `json:"reconnects"`
	// QueuedBytes are the bytes waiting for a push's target (at most
	// MaxPushQueue); 0 for a pull.
	QueuedBytes int `json:"queued_bytes"`
	// RTTMillis is the kernel's smoothed round-trip time to the origin or
	// target (TCP_INFO), refreshed about every second while connected.
	RTTMillis float64 `json:"rtt_ms"`
	LastError string  `json:"last_error,omitempty"`
}

// status is a relay's Info, updated by its goroutine and read by the admin
// API (any goroutine); each change of state is logged by the caller.
type status struct {
	mu   sync.Mutex
	info Info
}

func (s *status) set(state, target string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if state == "retrying" || (state == "connecting" && s.info.State != "") {
		s.info.Reconnects++
	}
	s.info.State, s.info.Since = state, time.Now()
	if target != "" {
		s.info.Target = target
	}
	if err != nil {
		s.info.LastError = err.Error()
	}
}

func (s *status) addBytes(n int) {
	s.mu.Lock()
	s.info.Bytes += uint64(n)
	s.mu.Unlock()
}

func (s *status) setRTT(d time.Duration) {
	s.mu.Lock()
	s.info.RTTMillis = float64(d.Microseconds()) / 1000
	s.mu.Unlock()
}

func (s *status) get() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Relays describes every pull and push of the manager. Any goroutine.
func (m *Manager) Relays() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.pulls)+len(m.pushes))
	for _, p := range m.pulls {
		out = append(out, p.st.get())
	}
	for p := range m.pushes {
		in := p.st.get()
		in.QueuedBytes = p.waiting()
		out = append(out, in)
	}
	return out
}
