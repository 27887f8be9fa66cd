package main

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An rxConn's read returns the bytes and keeps the arrival stamp of the
// segment read: after the write, before the read returned. Deadlines, the
// peer's close and Close behave as on the TCP connection.
func TestRxConnStamps(t *testing.T) {
	a, b := loopbackPair(t)
	c, err := newRxConn(a)
	if err != nil {
		t.Fatal(err)
	}
	if c.stamp() != 0 {
		t.Fatalf("stamp %d before a read", c.stamp())
	}
	buf := make([]byte, 100)
	// The kernel turns stamping on shortly after the first socket asks.
	for i := 0; c.stamp() == 0; i++ {
		if i == 200 {
			t.Fatal("no receive stamp after 200 reads 10 ms apart")
		}
		time.Sleep(10 * time.Millisecond)
		if _, err := b.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	for i := range 3 {
		before := time.Now().UnixNano()
		if _, err := b.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		after := time.Now().UnixNano()
		if err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("read %d: %q, %v", i, buf[:n], err)
		}
		if s := c.stamp(); s < before || s > after || s <= last {
			t.Fatalf("read %d: stamp %d outside [%d, %d] or not after %d", i, s, before, after, last)
		}
		last = c.stamp()
	}

	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	b.Close()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v", err)
	}
	c.Close()
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if c.stamp() != last {
		t.Fatal("a failed read changed the stamp")
	}
}

// Reads unblock on Close from another goroutine.
func TestRxConnCloseUnblocks(t *testing.T) {
	a, _ := loopbackPair(t)
	c, err := newRxConn(a)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after Close")
	}
}

// appendCmsg appends one control message with data.
func appendCmsg(b []byte, level, typ int32, data []byte) []byte {
	h := make([]byte, unix.CmsgSpace(len(data)))
	binary.NativeEndian.PutUint64(h, uint64(unix.CmsgLen(len(data))))
	binary.NativeEndian.PutUint32(h[8:], uint32(level))
	binary.NativeEndian.PutUint32(h[12:], uint32(typ))
	copy(h[unix.CmsgLen(0):], data)
	return append(b, h...)
}

func TestParseRxStamp(t *testing.T) {
	if unsafe.Sizeof(unix.Cmsghdr{}) != 16 {
		t.Skip("control message layout of a 64-bit Linux")
	}
	ts := make([]byte, 16)
	binary.NativeEndian.PutUint64(ts, 3)
	binary.NativeEndian.PutUint64(ts[8:], 500)
	other := appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4, 5})
	for _, c := range []struct {
		name string
		oob  []byte
		want int64
		ok   bool
	}{
		{"stamp", appendCmsg(nil, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts), 3_000_000_500, true},
		{"after another message", appendCmsg(other, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts), 3_000_000_500, true},
		{"empty", nil, 0, false},
		{"other message only", other, 0, false},
		{"other level", appendCmsg(nil, unix.IPPROTO_TCP, unix.SO_TIMESTAMPNS, ts), 0, false},
		{"short stamp", appendCmsg(nil, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts[:8]), 0, false},
		{"truncated", appendCmsg(nil, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts)[:20], 0, false},
		{"length past the end", func() []byte {
			b := appendCmsg(nil, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts)
			binary.NativeEndian.PutUint64(b, 1000)
			return b
		}(), 0, false},
		{"length under a header", func() []byte {
			b := appendCmsg(nil, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, ts)
			binary.NativeEndian.PutUint64(b, 4)
			return b
		}(), 0, false},
	} {
		got, ok := parseRxStamp(c.oob)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
