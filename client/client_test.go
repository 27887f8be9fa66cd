package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// videoPayload returns a fake AVC frame of n bytes whose content depends on i.
func videoPayload(i, n int) []byte {
	p := make([]byte, n)
	p[0], p[1] = 0x27, 1
	if i%10 == 0 {
		p[0] = 0x17
	}
	for j := 5; j < n; j++ {
		p[j] = byte(i + j)
	}
	return p
}

// TestDialPlay plays from the fake server and checks control handling: the
// server's chunk size and window, Ping Request, Acknowledgements, stream
// events returned to the application, and deleteStream on Close.
func TestDialPlay(t *testing.T) {
	for _, digest := range []bool{false, true} {
		t.Run(fmt.Sprintf("digest=%v", digest), func(t *testing.T) {
			const frames, size, window = 20, 1000, 5000
			done := make(chan error, 1)
			fs := newFakeServer(t, func(fc *fakeConn) {
				done <- func() error {
					obj, err := fc.acceptConnect(window, 300)
					if err != nil {
						return err
					}
					if app, tc := obj.At(0).Get("app").Str(), obj.At(0).Get("tcUrl").Str(); app != "live" || tc != "rtmp://"+fc.nc.LocalAddr().String()+"/live" {
						return fmt.Errorf("connect app %q tcUrl %q", app, tc)
					}
					if err := fc.acceptCreateStream(1); err != nil {
						return err
					}
					_, m, err := fc.expect("play")
					if err != nil {
						return err
					}
					if m.StreamID != 1 || fc.doc.At(3).Str() != "cam1?k=v" || fc.doc.At(4).Number() != -2000 {
						return fmt.Errorf("play on stream %d: %q %v", m.StreamID, fc.doc.At(3).Str(), fc.doc.At(4).Number())
					}
					b := chunkcodec.AppendStreamBegin(nil, 1)
					b = append(b, fc.command(1, amf0.AppendOnStatus(nil, 0, "status", client.CodePlayReset, "reset"))...)
					b = append(b, fc.command(1, amf0.AppendOnStatus(nil, 0, "status", client.CodePlayStart, "start"))...)
					b = chunkcodec.AppendPingRequest(b, 1234)
					for i := range frames {
						b = chunkcodec.AppendMessage(b, chunkcodec.Header{ChunkStreamID: 7, Timestamp: uint32(40 * i), TypeID: chunkcodec.TypeVideo, StreamID: 1}, videoPayload(i, size), fc.out)
					}
					b = append(b, fc.command(1, amf0.AppendOnStatus(nil, 0, "status", client.CodeUnpublishNotify, "gone"))...)
					b = chunkcodec.AppendStreamEOF(b, 1)
					if err := fc.send(b); err != nil {
						return err
					}
					var pong, bufLen bool
					var ack uint32
					for !pong || !bufLen || ack < window {
						m, err := fc.read()
						if err != nil {
							return fmt.Errorf("pong %v buffer length %v ack %d: %w", pong, bufLen, ack, err)
						}
						switch m.TypeID {
						case chunkcodec.TypeUserControl:
							uc, _ := chunkcodec.ParseUserControl(m.Payload)
							pong = pong || uc.Event == chunkcodec.EventPingResponse && uc.Data == 1234
							bufLen = bufLen || uc.Event == chunkcodec.EventSetBufferLength && uc.Data == 1 && uc.BufferLength == client.DefaultBufferLength
						case chunkcodec.TypeAck:
							ack, _ = chunkcodec.ParseUint32Payload(m.Payload)
						}
					}
					if _, _, err := fc.expect("deleteStream"); err != nil {
						return err
					}
					if id := fc.doc.At(3).Number(); id != 1 {
						return fmt.Errorf("deleteStream(%v)", id)
					}
					return nil
				}()
			})
			ctx := testCtx(t)
			c, err := client.Dial(ctx, fs.url("live/cam1?k=v"), client.Config{Digest: digest})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.StreamName(); got != "cam1?k=v" {
				t.Fatalf("StreamName = %q", got)
			}
			if err := c.Play(ctx, c.StreamName()); err != nil {
				t.Fatal(err)
			}
			if c.StreamID() != 1 {
				t.Fatalf("StreamID = %d", c.StreamID())
			}
			if err := c.Play(ctx, "again"); !errors.Is(err, client.ErrStreamActive) {
				t.Fatalf("second Play: %v", err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := range frames {
				m, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if m.TypeID != chunkcodec.TypeVideo || m.Timestamp != uint32(40*i) || !bytes.Equal(m.Payload, videoPayload(i, size)) {
					t.Fatalf("message %d: type %d ts %d len %d", i, m.TypeID, m.Timestamp, len(m.Payload))
				}
			}
			m, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if code, ok := client.StatusCode(m); !ok || code != client.CodeUnpublishNotify {
				t.Fatalf("status %q %v", code, ok)
			}
			if _, ok := client.UserControlEvent(m); ok {
				t.Fatal("a command is not a user control event")
			}
			m, err = c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if ev, ok := client.UserControlEvent(m); !ok || ev.Event != chunkcodec.EventStreamEOF || ev.Data != 1 {
				t.Fatalf("event %+v %v", ev, ok)
			}
			if _, ok := client.StatusCode(m); ok {
				t.Fatal("a user control event is not a status")
			}
			if c.BytesReceived() < window {
				t.Fatalf("BytesReceived = %d", c.BytesReceived())
			}
			// The fake server sees the pong and the ack, then deleteStream.
			time.Sleep(50 * time.Millisecond)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := c.ReadMessage(); !errors.Is(err, client.ErrClosed) {
				t.Fatalf("ReadMessage after Close: %v", err)
			}
		})
	}
}

// TestPublish checks the publish sequence, the outbound chunk size, metadata
// and media messages, and FCUnpublish + deleteStream on Close.
func TestPublish(t *testing.T) {
	md := amf0.AppendString(nil, "onMetaData")
	md = amf0.AppendECMAArrayStart(md, 1)
	md = amf0.AppendPropNumber(md, "width", 320)
	md = amf0.AppendObjectEnd(md)
	video := videoPayload(0, 10000) // several 4096-byte chunks
	audio := []byte{0xaf, 1, 2, 3}
	done := make(chan error, 1)
	fs := newFakeServer(t, func(fc *fakeConn) {
		done <- func() error {
			if _, err := fc.acceptConnect(2500000, 4096); err != nil {
				return err
			}
			for _, name := range []string{"releaseStream", "FCPublish"} {
				if _, _, err := fc.expect(name); err != nil {
					return err
				}
				if got := fc.doc.At(3).Str(); got != "s1" {
					return fmt.Errorf("%s(%q)", name, got)
				}
			}
			if err := fc.acceptCreateStream(7); err != nil {
				return err
			}
			_, m, err := fc.expect("publish")
			if err != nil {
				return err
			}
			if m.StreamID != 7 || fc.doc.At(3).Str() != "s1" || fc.doc.At(4).Str() != "live" {
				return fmt.Errorf("publish on %d: %q %q", m.StreamID, fc.doc.At(3).Str(), fc.doc.At(4).Str())
			}
			if err := fc.status(7, "status", client.CodePublishStart, "started"); err != nil {
				return err
			}
			if fc.dec.ChunkSize() != client.DefaultChunkSize {
				return fmt.Errorf("inbound chunk size %d", fc.dec.ChunkSize())
			}
			want := []struct {
				typeID uint8
				ts     uint32
				body   []byte
			}{
				{chunkcodec.TypeDataAMF0, 0, append(amf0.AppendString(nil, "@setDataFrame"), md...)},
				{chunkcodec.TypeVideo, 0, video},
				{chunkcodec.TypeAudio, 23, audio},
				{chunkcodec.TypeVideo, 0x1000000, video}, // extended timestamp
			}
			for i, w := range want {
				m, err := fc.read()
				if err != nil {
					return err
				}
				if m.TypeID != w.typeID || m.Timestamp != w.ts || m.StreamID != 7 || !bytes.Equal(m.Payload, w.body) {
					return fmt.Errorf("message %d: type %d ts %d stream %d len %d", i, m.TypeID, m.Timestamp, m.StreamID, len(m.Payload))
				}
			}
			if _, _, err := fc.expect("FCUnpublish"); err != nil {
				return err
			}
			_, _, err = fc.expect("deleteStream")
			return err
		}()
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, fs.url("live"), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(chunkcodec.TypeVideo, 0, video); !errors.Is(err, client.ErrNotPublishing) {
		t.Fatalf("WriteMessage before Publish: %v", err)
	}
	if err := c.Publish(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(chunkcodec.TypeCommandAMF0, 0, nil); !errors.Is(err, client.ErrMessageType) {
		t.Fatalf("WriteMessage(20): %v", err)
	}
	if err := c.WriteMetaData(md); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		typeID uint8
		ts     uint32
		p      []byte
	}{{9, 0, video}, {8, 23, audio}, {9, 0x1000000, video}} {
		if err := c.WriteMessage(w.typeID, w.ts, w.p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(9, 0, video); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("WriteMessage after Close: %v", err)
	}
}

// TestRefusals checks that error statuses and _error replies become
// *StatusError values carrying the server's code and description.
func TestRefusals(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		tx, _, err := fc.expect("connect")
		if err != nil {
			return
		}
		if fc.doc.At(2).Get("app").Str() == "nope" {
			b := amf0.AppendCommandStart(nil, "_error", tx)
			b = amf0.AppendNull(b)
			b = amf0.AppendStatusObject(b, "error", client.CodeConnectRejected, "unknown app nope")
			_ = fc.send(fc.command(0, b))
			return
		}
		if err := fc.result(tx, amf0.AppendNull(nil)); err != nil {
			return
		}
		for {
			name, tx, _, err := fc.readCommand()
			if err != nil {
				return
			}
			switch name {
			case "createStream":
				_ = fc.result(tx, amf0.AppendNumber(nil, 1))
			case "publish":
				_ = fc.status(1, "error", client.CodePublishRejected, "token required")
			case "echo":
				var vals [][]byte
				for i := 3; i < fc.doc.Len(); i++ {
					vals = append(vals, amf0.AppendValue(nil, fc.doc.At(i)))
				}
				_ = fc.result(tx, vals...)
			case "fail":
				b := amf0.AppendCommandStart(nil, "_error", tx)
				b = amf0.AppendNull(b)
				b = amf0.AppendStatusObject(b, "error", client.CodeCallFailed, "no such thing")
				_ = fc.send(fc.command(0, b))
			}
		}
	})
	ctx := testCtx(t)

	_, err := client.Dial(ctx, fs.url("nope/x"), client.Config{})
	var se *client.StatusError
	if !errors.As(err, &se) || se.Command != "connect" || se.Code != client.CodeConnectRejected || se.Description != "unknown app nope" || !errors.Is(err, client.ErrStatus) {
		t.Fatalf("connect to unknown app: %v", err)
	}

	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	doc, err := c.Call(ctx, "echo", "hello", 42, true, nil, []any{1.5, "a"}, map[string]any{"k": "v", "n": uint32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if doc.At(0).Str() != "_result" || doc.At(3).Str() != "hello" || doc.At(4).Number() != 42 || !doc.At(5).Bool() ||
		doc.At(6).Kind() != amf0.KindNull || doc.At(7).Index(1).Str() != "a" || doc.At(8).Get("n").Number() != 3 {
		t.Fatalf("echo reply: %d values", doc.Len())
	}
	if _, err := c.Call(ctx, "echo", struct{}{}); !errors.Is(err, client.ErrBadArgument) {
		t.Fatalf("Call with a struct: %v", err)
	}
	_, err = c.Call(ctx, "fail")
	if !errors.As(err, &se) || se.Command != "fail" || se.Code != client.CodeCallFailed || se.Description != "no such thing" {
		t.Fatalf("fail: %v", err)
	}
	err = c.Publish(ctx, "x")
	if !errors.As(err, &se) || se.Command != "publish" || se.Level != "error" || se.Code != client.CodePublishRejected || se.Description != "token required" {
		t.Fatalf("publish: %v", err)
	}
}

// TestTimeouts checks Config.Timeout, context cancellation and read
// deadlines, and that the Conn stays usable after a read deadline passes.
func TestTimeouts(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		if _, err := fc.acceptConnect(0, 128); err != nil {
			return
		}
		for {
			if _, _, _, err := fc.readCommand(); err != nil {
				return
			}
			// createStream is never answered.
		}
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Play(ctx, "x"); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("Play with no reply: %v", err)
	}

	c2, err := client.Dial(ctx, fs.url("live/x"), client.Config{Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := c2.Publish(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context: %v", err)
	}
	// The command's deadline is gone: the user's deadline governs reads again.
	_ = c2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c2.ReadMessage(); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("ReadMessage: %v", err)
	}
}

// TestReadDeadline checks that a read that times out can be retried.
func TestReadDeadline(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		if _, err := fc.acceptConnect(0, 128); err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
		_ = fc.send(chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 7, TypeID: 9, StreamID: 1}, []byte{0x17, 1}, fc.out))
		_, _ = fc.read() // until the client closes
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.ReadMessage(); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("ReadMessage before the deadline: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.ReadMessage()
	if err != nil || m.TypeID != chunkcodec.TypeVideo || !bytes.Equal(m.Payload, []byte{0x17, 1}) {
		t.Fatalf("ReadMessage after the deadline: %v", err)
	}
}

// TestCloseUnblocksRead closes a Conn while another goroutine reads.
func TestCloseUnblocksRead(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		if _, err := fc.acceptConnect(0, 128); err != nil {
			return
		}
		_, _ = fc.read()
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadMessage()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrClosed) {
			t.Fatalf("ReadMessage: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("ReadMessage still blocked after Close")
	}
}

// TestServerClose checks that a server closing the connection reads as io.EOF.
func TestServerClose(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		_, _ = fc.acceptConnect(0, 128)
	})
	ctx := testCtx(t)
	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadMessage: %v", err)
	}
	if err := c.Play(ctx, "x"); err == nil {
		t.Fatal("Play on a closed connection succeeded")
	}
}

// wrappedConn counts the reads that pass through it.
type wrappedConn struct {
	net.Conn
	reads atomic.Int64
}

func (w *wrappedConn) Read(p []byte) (int, error) {
	w.reads.Add(1)
	return w.Conn.Read(p)
}

// TestDialContext checks that Config.DialContext opens the connection, that
// its connection is the one read and RawConn returns it, and that its error
// is Dial's.
func TestDialContext(t *testing.T) {
	fs := newFakeServer(t, func(fc *fakeConn) {
		_, _ = fc.acceptConnect(0, 128)
	})
	ctx := testCtx(t)
	var w *wrappedConn
	var gotNetwork, gotAddr string
	cfg := client.Config{DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
		gotNetwork, gotAddr = network, address
		nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		w = &wrappedConn{Conn: nc}
		return w, nil
	}}
	c, err := client.Dial(ctx, fs.url("live/x"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if gotNetwork != "tcp" || gotAddr != fs.ln.Addr().String() {
		t.Fatalf("DialContext(%q, %q)", gotNetwork, gotAddr)
	}
	if c.RawConn() != net.Conn(w) || w.reads.Load() == 0 {
		t.Fatalf("RawConn %T, %d reads through the dialled connection", c.RawConn(), w.reads.Load())
	}

	errDial := errors.New("no route")
	_, err = client.Dial(ctx, fs.url("live/x"), client.Config{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return nil, errDial
	}})
	if !errors.Is(err, errDial) {
		t.Fatalf("Dial with a failing DialContext: %v", err)
	}
}
