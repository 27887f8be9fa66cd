package main

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// loopbackPair returns the two ends of a loopback TCP connection.
func loopbackPair(t *testing.T) (dialled, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialled, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialled.Close(); accepted.Close() })
	return dialled, accepted
}

// tcp_info's bytes_received counts what arrived, read or not; a socket is
// readable with bytes queued and after the peer closed.
func TestSockProbe(t *testing.T) {
	a, b := loopbackPair(t)
	probe, err := newSockProbe(a)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := probe.received(); err != nil || n != 0 {
		t.Fatalf("before any byte: %d, %v", n, err)
	}
	if ok, err := probe.readable(); ok || err != nil {
		t.Fatalf("readable before any byte: %v, %v", ok, err)
	}
	if _, err := b.Write(make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// The other 4000 bytes may still be on their way (a test on a loaded
	// machine): wait for them, bounded.
	n, err := probe.received()
	for deadline := time.Now().Add(5 * time.Second); err == nil && n < 5000 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		n, err = probe.received()
	}
	if err != nil || n != 5000 {
		t.Errorf("after 5000 bytes, 1000 read: %d, %v", n, err)
	}
	if ok, err := probe.readable(); !ok || err != nil {
		t.Errorf("readable with 4000 bytes queued: %v, %v", ok, err)
	}
	if _, err := io.ReadFull(a, make([]byte, 4000)); err != nil {
		t.Fatal(err)
	}
	b.Close()
	ok, err := probe.readable()
	for deadline := time.Now().Add(5 * time.Second); err == nil && !ok && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		ok, err = probe.readable()
	}
	if !ok || err != nil {
		t.Errorf("readable after the peer closed: %v, %v", ok, err)
	}
	a.Close()
	if _, err := probe.received(); err == nil {
		t.Error("no error after close")
	}
}

// The RTMP players' rounds rest on this: once a player has read everything,
// the kernel's bytes received less the server's handshake is what the
// client's decoder consumed.
func TestRTMPBytesReceivedOffset(t *testing.T) {
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &runner{cfg: Config{Timeout: 5 * time.Second, ReadBuffer: DefaultReadBuffer}, pool: chunkcodec.NewBufferPool(), dial: rxDial(loopbackDialer(5 * time.Second).DialContext)}
	c, err := client.Dial(ctx, "rtmp://"+srv.RTMPAddr()+"/live/nobody", r.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rxOf(c.RawConn()) == nil {
		t.Fatalf("the player's connection is a %T, not an rxConn", c.RawConn())
	}
	if err := c.Play(ctx, c.StreamName()); err != nil {
		t.Fatal(err)
	}
	// Nobody publishes: after the play's replies the server sends nothing.
	// Read until a short deadline passes with nothing more.
	for {
		if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadMessage(); err != nil {
			if !errors.Is(err, client.ErrTimeout) {
				t.Fatal(err)
			}
			break
		}
	}
	probe, err := newSockProbe(c.RawConn())
	if err != nil {
		t.Fatal(err)
	}
	n, err := probe.received()
	if err != nil {
		t.Fatal(err)
	}
	if got := n - chunkcodec.HandshakeWireSize; got != c.BytesReceived() || got == 0 {
		t.Errorf("bytes received %d less the handshake %d = %d, decoder consumed %d", n, chunkcodec.HandshakeWireSize, got, c.BytesReceived())
	}
}

// pacedConn passes reads through until armed; armed, a read that filled its
// buffer is followed by another at once (the interval of an hour would stop
// the test otherwise).
func TestPacedConn(t *testing.T) {
	a, b := loopbackPair(t)
	probe, err := newSockProbe(a)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pacedConn{Conn: a, probe: probe, tick: readTicker{interval: time.Hour}}
	buf := make([]byte, 64)
	for range 2 { // the second read follows one that emptied the socket
		if _, err := b.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if n, err := pc.Read(buf); err != nil || n != 5 || !pc.drained {
			t.Fatalf("read %d, %v, drained %v", n, err, pc.drained)
		}
	}
	arm(pc)
	pc.drained = false
	if _, err := b.Write(make([]byte, 200)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, err := pc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n < len(buf) {
			t.Skip("the 200 bytes arrived in pieces; the next read would wait for the next tick")
		}
	}
}

// A paced read after the peer closed returns the end of the stream instead
// of waiting for bytes that never come.
func TestPacedConnEOF(t *testing.T) {
	a, b := loopbackPair(t)
	probe, err := newSockProbe(a)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pacedConn{Conn: a, probe: probe, tick: readTicker{interval: time.Millisecond}, drained: true}
	arm(pc)
	b.Close()
	if n, err := pc.Read(make([]byte, 64)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("read %d, %v", n, err)
	}
}
