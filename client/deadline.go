package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Read deadlines and error mapping: the user's deadline for ReadMessage, each
// command's own deadline from its context and Config.Timeout, and the
// wrapping of timeouts and closes in ErrTimeout and ErrClosed.

// SetReadDeadline sets the deadline for ReadMessage (a zero t means none).
// Commands (Publish, Play, Call) use their own deadline and restore this one
// when they return. Safe from any goroutine.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	c.userDeadline = t
	if c.opActive {
		return nil
	}
	return c.nc.SetReadDeadline(t)
}

// past is a read deadline that has passed: it makes a blocked read return.
var past = time.Unix(1, 0)

// withDeadline runs fn, a reading operation, with a read deadline from ctx
// and timeout (0: cfg.Timeout), and maps a deadline error to ErrTimeout or
// the context's error.
func (c *Conn) withDeadline(ctx context.Context, timeout time.Duration, what string, fn func() error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if timeout == 0 {
		timeout = c.cfg.Timeout
	}
	var dl time.Time
	if timeout > 0 {
		dl = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	c.dmu.Lock()
	c.opActive = true
	_ = c.nc.SetReadDeadline(dl)
	c.dmu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.dmu.Lock()
		if c.opActive {
			_ = c.nc.SetReadDeadline(past)
		}
		c.dmu.Unlock()
	})
	err := fn()
	stop()
	c.dmu.Lock()
	c.opActive = false
	_ = c.nc.SetReadDeadline(c.userDeadline)
	c.dmu.Unlock()
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	if ctx.Err() != nil && isTimeout(err) {
		return fmt.Errorf("client: %s: %w", what, ctx.Err())
	}
	err = c.mapErr(err)
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("client: %s: server closed the connection: %w", what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("client: %s: %w", what, err)
}

// mapErr wraps deadline errors with ErrTimeout and errors after Close with ErrClosed.
func (c *Conn) mapErr(err error) error {
	switch {
	case err == nil, errors.Is(err, ErrTimeout), errors.Is(err, ErrClosed):
		return err
	case c.closed.Load():
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case isTimeout(err):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
