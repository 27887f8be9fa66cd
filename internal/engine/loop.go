package engine

import (
	"time"

	"github.com/quaverlive/quaver/fanout"
	"github.com/quaverlive/quaver/netpoll"
)

// Loop is one event loop's scratch, shared by the sessions it serves
// (loop-only): the output of the session being served and an AMF0 body.
type Loop struct {
	Fan   FanoutLoop // the loop as fanout sees it
	Out   []byte     // pending output of the session being served
	Body  []byte     // AMF0 body scratch
	Now   time.Time
	Ticks uint64 // loop ticks so far: the clock of partial-message deadlines
}

// NewLoop returns scratch for one loop.
func NewLoop() *Loop {
	return &Loop{Out: make([]byte, 0, 8<<10), Body: make([]byte, 0, 4<<10), Now: time.Now()}
}

// Bind records l as this scratch's loop (loop-only) and returns it as fanout
// sees it. The first call wins; the binding is immutable after.
func (ls *Loop) Bind(l netpoll.EventLoop) *FanoutLoop {
	if ls.Fan.l == nil {
		ls.Fan.l = l
	}
	return &ls.Fan
}

// Tick advances the loop's clock (loop-only, once per loop tick).
func (ls *Loop) Tick(now time.Time) {
	ls.Now = now
	ls.Ticks++
}

// FanoutLoop presents a transport's event loop to fanout (fanout.Loop); the
// composition root binds the two, so neither package imports the other.
type FanoutLoop struct{ l netpoll.EventLoop }

// Index implements fanout.Loop.
func (f *FanoutLoop) Index() int { return f.l.Index() }

// Execute implements fanout.Loop; safe from any goroutine.
func (f *FanoutLoop) Execute(t fanout.Task) error { return f.l.Execute(t) }
