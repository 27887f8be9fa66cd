// Package fakeloop is the one fake event loop and fake connection of Quaver's
// tests and benchmarks: sessions, fanout subscribers and the hot-path
// benchmarks run on them from bytes, with no socket, no goroutine and no
// transport.
//
// A Loop queues the tasks given to Execute and runs them when the test calls
// Run, as an event loop runs them between reads. A Conn records (or counts)
// what is written to it and reports a backlog the test sets. Everything here
// belongs to the test's goroutine.
package fakeloop

import (
	"context"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/netpoll"
)

// Loop is a fake event loop: netpoll.EventLoop, and fanout.Loop through
// Fanout.
type Loop struct {
	Idx   int
	tasks []netpoll.Task
	fan   fanoutLoop
}

// New returns loop idx with room for a few queued tasks, so that queueing
// does not allocate in a benchmark's steady state.
func New(idx int) *Loop {
	return &Loop{Idx: idx, tasks: make([]netpoll.Task, 0, 16)}
}

// Index implements netpoll.EventLoop.
func (l *Loop) Index() int { return l.Idx }

// Execute implements netpoll.EventLoop: t runs at the next Run.
func (l *Loop) Execute(t netpoll.Task) error {
	l.tasks = append(l.tasks, t)
	return nil
}

// Run runs the queued tasks, and those they queue, in order.
func (l *Loop) Run() {
	for len(l.tasks) > 0 {
		t := l.tasks[0]
		l.tasks = l.tasks[:copy(l.tasks, l.tasks[1:])]
		_ = t.Run(context.Background())
	}
}

// Pending returns the number of queued tasks.
func (l *Loop) Pending() int { return len(l.tasks) }

// Fanout returns the loop as fanout sees it.
func (l *Loop) Fanout() fanout.Loop {
	l.fan.l = l
	return &l.fan
}

type fanoutLoop struct{ l *Loop }

func (f *fanoutLoop) Index() int                  { return f.l.Idx }
func (f *fanoutLoop) Execute(t fanout.Task) error { return f.l.Execute(t) }

// Conn is a fake connection: a netpoll.Conn and a fanout.Sink. Written bytes
// are appended to Out, or only counted when Discard is set.
type Conn struct {
	L       *Loop
	Remote  string // RemoteAddr; "127.0.0.1:1" when empty
	Kind    int    // ListenerKind
	Discard bool   // count written bytes without keeping them
	Backlog int    // what OutboundBuffered reports while open

	Out     []byte
	Written int
	Writes  int
	Closed  bool
}

// Write implements netpoll.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	if c.Closed {
		return 0, netpoll.ErrStopped
	}
	c.Writes++
	c.Written += len(b)
	if !c.Discard {
		c.Out = append(c.Out, b...)
	}
	return len(b), nil
}

// Writev implements netpoll.Conn and fanout.Sink.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	if c.Closed {
		return 0, netpoll.ErrStopped
	}
	c.Writes++
	n := 0
	for _, b := range bufs {
		n += len(b)
		if !c.Discard {
			c.Out = append(c.Out, b...)
		}
	}
	c.Written += n
	return n, nil
}

// OutboundBuffered implements netpoll.Conn and fanout.Sink.
func (c *Conn) OutboundBuffered() int {
	if c.Closed {
		return 0
	}
	return c.Backlog
}

// Close implements netpoll.Conn and fanout.Sink.
func (c *Conn) Close() error {
	c.Closed = true
	return nil
}

// RemoteAddr implements netpoll.Conn.
func (c *Conn) RemoteAddr() string {
	if c.Remote == "" {
		return "127.0.0.1:1"
	}
	return c.Remote
}

// LocalPort implements netpoll.Conn.
func (c *Conn) LocalPort() int { return 0 }

// ListenerKind implements netpoll.Conn.
func (c *Conn) ListenerKind() int { return c.Kind }

// Loop implements netpoll.Conn.
func (c *Conn) Loop() netpoll.EventLoop { return c.L }

// Take returns what was written since the last Take and forgets it.
func (c *Conn) Take() []byte {
	out := c.Out
	c.Out = nil
	return out
}

var (
	_ netpoll.Conn      = (*Conn)(nil)
	_ fanout.Sink       = (*Conn)(nil)
	_ fanout.Loop       = (*fanoutLoop)(nil)
	_ netpoll.EventLoop = (*Loop)(nil)
)
