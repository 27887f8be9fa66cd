package registry

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quaverlive/quaver/fanout"
)

func newTestRegistry(l Limits) *Registry { return New(fanout.NewHub(fanout.Config{}), l) }

var gop = fanout.StreamOptions{GOPCache: true}

// A play of a name nobody publishes leaves nothing behind once its player
// leaves; a stream that had a publisher lingers.
func TestWaitingStreamForgottenWithLastPlayer(t *testing.T) {
	r := newTestRegistry(Limits{Linger: time.Minute})
	st, err := r.AcquirePlay("live", "ghost", gop, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Counts(); n != 1 {
		t.Fatalf("%d streams while waiting", n)
	}
	r.ReleasePlay(st)
	if n, _ := r.Counts(); n != 0 {
		t.Fatalf("%d streams after the waiting player left", n)
	}

	pub := new(int)
	st, _, err = r.AcquirePublish(pub, "live", "cam", gop, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.ReleasePublish(pub, st); !ok {
		t.Fatal("release refused")
	}
	r.Sweep(time.Now())
	if n, _ := r.Counts(); n != 1 {
		t.Fatal("a published stream did not linger")
	}
	r.Sweep(time.Now().Add(2 * time.Minute))
	if n, _ := r.Counts(); n != 0 {
		t.Fatal("a lingering stream outlived its linger")
	}
}

func TestBudgets(t *testing.T) {
	cases := []struct {
		name string
		run  func(r *Registry) error
	}{
		{"idle cap", func(r *Registry) error {
			for i := range 3 {
				if _, err := r.AcquirePlay("live", fmt.Sprint("w", i), gop, nil); err != nil {
					return err
				}
			}
			if _, err := r.AcquirePlay("live", "w3", gop, nil); !errors.Is(err, ErrTooManyIdle) {
				return fmt.Errorf("4th waiting stream: %v", err)
			}
			// Joining a known stream and publishing are not idle.
			if _, err := r.AcquirePlay("live", "w0", gop, nil); err != nil {
				return fmt.Errorf("join a waiting stream: %v", err)
			}
			if _, _, err := r.AcquirePublish(new(int), "live", "p", gop, false, nil); err != nil {
				return fmt.Errorf("publish: %v", err)
			}
			return nil
		}},
		{"names per connection", func(r *Registry) error {
			names := &NameBudget{Max: 2}
			for i := range 2 {
				st, err := r.AcquirePlay("live", fmt.Sprint("n", i), gop, names)
				if err != nil {
					return err
				}
				r.ReleasePlay(st)
			}
			if _, err := r.AcquirePlay("live", "n2", gop, names); !errors.Is(err, ErrTooManyNames) {
				return fmt.Errorf("3rd name: %v", err)
			}
			if _, _, err := r.AcquirePublish(new(int), "live", "n3", gop, false, names); !errors.Is(err, ErrTooManyNames) {
				return fmt.Errorf("publish of a 4th name: %v", err)
			}
			if n, _ := r.Counts(); n != 0 {
				return fmt.Errorf("%d streams left by a refused connection", n)
			}
			return nil
		}},
		{"republish reject", func(r *Registry) error {
			a, b := new(int), new(int)
			if _, _, err := r.AcquirePublish(a, "live", "x", gop, false, nil); err != nil {
				return err
			}
			if _, _, err := r.AcquirePublish(b, "live", "x", gop, false, nil); !errors.Is(err, ErrStreamBusy) {
				return fmt.Errorf("second publisher: %v", err)
			}
			return nil
		}},
		{"republish replace", func(r *Registry) error {
			a, b := new(int), new(int)
			st, _, _ := r.AcquirePublish(a, "live", "x", gop, true, nil)
			st2, old, err := r.AcquirePublish(b, "live", "x", gop, true, nil)
			if err != nil || st2 != st || old != Publisher(a) {
				return fmt.Errorf("replace: %v old=%v", err, old)
			}
			if ok, _ := r.ReleasePublish(a, st); ok {
				return errors.New("the replaced publisher released the stream")
			}
			if !r.IsPublisher(st, b) {
				return errors.New("the new publisher lost the stream")
			}
			if _, p := r.Counts(); p != 1 {
				return fmt.Errorf("publishing count %d", p)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(newTestRegistry(Limits{MaxIdle: 3, Linger: time.Minute})); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Players, publishers and the janitor on many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	r := newTestRegistry(Limits{MaxIdle: 1000, Linger: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			me := new(int)
			for i := range 200 {
				name := fmt.Sprint("s", (g+i)%5)
				if st, _, err := r.AcquirePublish(me, "live", name, gop, true, nil); err == nil {
					r.ReleasePublish(me, st)
				}
				if st, err := r.AcquirePlay("live", name, gop, nil); err == nil {
					r.ReleasePlay(st)
				}
				if i%50 == 0 {
					r.Sweep(time.Now().Add(time.Second))
				}
			}
		})
	}
	wg.Wait()
	r.Sweep(time.Now().Add(time.Second))
	if n, p := r.Counts(); n != 0 || p != 0 {
		t.Fatalf("%d streams, %d publishing left", n, p)
	}
}

// Players of a stream whose publisher left wait for the grace: Sweep ends
// their wait past it, once, and never when a publisher came back.
func TestGraceEndsTheWait(t *testing.T) {
	r := newTestRegistry(Limits{Linger: time.Minute, Grace: 5 * time.Second})
	pub := new(int)
	st, _, err := r.AcquirePublish(pub, "live", "cam", gop, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	epoch := st.Fanout.BeginPublish()
	if _, err := r.AcquirePlay("live", "cam", gop, nil); err != nil {
		t.Fatal(err)
	}
	r.ReleasePublish(pub, st)
	st.Fanout.SuspendPublishAs(epoch, nil)
	r.Sweep(time.Now().Add(time.Second))
	if !st.Fanout.EndWaiting() {
		t.Fatal("the wait ended within the grace")
	}

	st, _, _ = r.AcquirePublish(pub, "live", "cam", gop, false, nil)
	epoch = st.Fanout.BeginPublish()
	r.ReleasePublish(pub, st)
	st.Fanout.SuspendPublishAs(epoch, nil)
	st, _, _ = r.AcquirePublish(new(int), "live", "cam", gop, false, nil) // back within the grace
	st.Fanout.BeginPublish()
	r.Sweep(time.Now().Add(time.Hour))
	if !st.Fanout.Publishing() {
		t.Fatal("the sweep ended a stream whose publisher came back")
	}
}
