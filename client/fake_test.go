package client_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// fakeServer is a scripted RTMP server: each accepted connection is
// handshaken and then handed to script on its own goroutine.
type fakeServer struct {
	ln     net.Listener
	script func(fc *fakeConn)
	errc   chan error
}

func newFakeServer(t testing.TB, script func(fc *fakeConn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{ln: ln, script: script, errc: make(chan error, 16)}
	go fs.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		select {
		case err := <-fs.errc:
			if err != nil {
				t.Errorf("fake server: %v", err)
			}
		default:
		}
	})
	return fs
}

func (fs *fakeServer) url(path string) string { return "rtmp://" + fs.ln.Addr().String() + "/" + path }

func (fs *fakeServer) serve() {
	for {
		nc, err := fs.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
			fc := &fakeConn{nc: nc, br: bufio.NewReader(nc), out: chunkcodec.DefaultChunkSize}
			if err := fc.handshake(); err != nil {
				fs.errc <- err
				return
			}
			fc.dec.Init(chunkcodec.DecoderConfig{})
			fs.script(fc)
		}()
	}
}

// fakeConn is the server side of one connection.
type fakeConn struct {
	nc  net.Conn
	br  *bufio.Reader
	dec chunkcodec.Decoder
	doc amf0.Document
	out uint32 // outbound chunk size
}

func (fc *fakeConn) handshake() error {
	var hs chunkcodec.ServerHandshake
	var out []byte
	for {
		p, err := fc.br.Peek(1)
		if err != nil {
			return err
		}
		p, _ = fc.br.Peek(fc.br.Buffered())
		n, reply, done, err := hs.Feed(p, out[:0])
		_, _ = fc.br.Discard(n)
		if err != nil {
			return err
		}
		if len(reply) > 0 {
			if _, err := fc.nc.Write(reply); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// read returns the next message from the client.
func (fc *fakeConn) read() (*chunkcodec.Message, error) {
	for {
		p, err := fc.br.Peek(1)
		if err != nil {
			return nil, err
		}
		p, _ = fc.br.Peek(fc.br.Buffered())
		n, m, err := fc.dec.Feed(p)
		_, _ = fc.br.Discard(n)
		if err != nil {
			return nil, err
		}
		if m != nil {
			return m, nil
		}
	}
}

// readCommand skips non-command messages and returns the next command's
// name, transaction id and message (body decoded in fc.doc).
func (fc *fakeConn) readCommand() (string, float64, *chunkcodec.Message, error) {
	for {
		m, err := fc.read()
		if err != nil {
			return "", 0, nil, err
		}
		if m.TypeID != chunkcodec.TypeCommandAMF0 {
			continue
		}
		if _, err := fc.doc.Decode(m.Payload); err != nil {
			return "", 0, nil, err
		}
		return fc.doc.At(0).Str(), fc.doc.At(1).Number(), m, nil
	}
}

// expect reads commands until one named name arrives.
func (fc *fakeConn) expect(name string) (float64, *chunkcodec.Message, error) {
	for {
		got, tx, m, err := fc.readCommand()
		if err != nil {
			return 0, nil, fmt.Errorf("waiting for %s: %w", name, err)
		}
		if got == name {
			return tx, m, nil
		}
	}
}

func (fc *fakeConn) send(b []byte) error {
	_, err := fc.nc.Write(b)
	return err
}

func (fc *fakeConn) command(streamID uint32, body []byte) []byte {
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0, StreamID: streamID}, body, fc.out)
}

func (fc *fakeConn) result(tx float64, values ...[]byte) error {
	b := amf0.AppendCommandStart(nil, "_result", tx)
	b = amf0.AppendNull(b)
	for _, v := range values {
		b = append(b, v...)
	}
	return fc.send(fc.command(0, b))
}

func (fc *fakeConn) status(streamID uint32, level, code, desc string) error {
	return fc.send(fc.command(streamID, amf0.AppendOnStatus(nil, 0, level, code, desc)))
}

// acceptConnect answers connect; it also announces a window and a chunk size
// of chunkSize for the server's output.
func (fc *fakeConn) acceptConnect(window, chunkSize uint32) (*amf0.Document, error) {
	tx, _, err := fc.expect("connect")
	if err != nil {
		return nil, err
	}
	if tx != 1 {
		return nil, fmt.Errorf("connect transaction id %v", tx)
	}
	var doc amf0.Document
	_, _ = doc.Decode(append([]byte(nil), fc.doc.At(2).Raw()...))
	b := chunkcodec.AppendWindowAckSize(nil, window)
	b = chunkcodec.AppendSetPeerBandwidth(b, window, chunkcodec.LimitDynamic)
	b = chunkcodec.AppendSetChunkSize(b, chunkSize)
	if err := fc.send(b); err != nil {
		return nil, err
	}
	fc.out = chunkSize
	res := amf0.AppendCommandStart(nil, "_result", 1)
	res = amf0.AppendObjectStart(res)
	res = amf0.AppendPropString(res, "fmsVer", "FMS/3,0,1,123")
	res = amf0.AppendObjectEnd(res)
	res = amf0.AppendStatusObject(res, "status", "NetConnection.Connect.Success", "ok")
	return &doc, fc.send(fc.command(0, res))
}

// acceptCreateStream answers createStream with id.
func (fc *fakeConn) acceptCreateStream(id uint32) error {
	tx, _, err := fc.expect("createStream")
	if err != nil {
		return err
	}
	return fc.result(tx, amf0.AppendNumber(nil, float64(id)))
}

// streamingPlayer returns a Conn playing from a fake server that sends video
// messages of size bytes (with a Ping Request every 64 messages and a 64 KiB
// acknowledgement window, so Ping Responses and Acknowledgements are part of
// the steady state) until the client goes away.
func streamingPlayer(tb testing.TB, size int) *client.Conn {
	tb.Helper()
	fs := newFakeServer(tb, func(fc *fakeConn) {
		if _, err := fc.acceptConnect(64<<10, 4096); err != nil {
			return
		}
		if err := fc.acceptCreateStream(1); err != nil {
			return
		}
		if _, _, err := fc.expect("play"); err != nil {
			return
		}
		if err := fc.status(1, "status", client.CodePlayStart, "start"); err != nil {
			return
		}
		var block []byte
		for i := range 64 {
			block = chunkcodec.AppendMessage(block, chunkcodec.Header{ChunkStreamID: 7, Timestamp: uint32(40 * i), TypeID: 9, StreamID: 1}, videoPayload(i, size), fc.out)
		}
		block = chunkcodec.AppendPingRequest(block, 99)
		go func() { // drain acks and pongs
			for {
				if _, err := fc.read(); err != nil {
					return
				}
			}
		}()
		for fc.send(block) == nil {
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, fs.url("live/x"), client.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Play(ctx, "x"); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkReadMessage measures a player's read path: 6000-byte video
// messages from a local fake server.
func BenchmarkReadMessage(b *testing.B) {
	const size = 6000
	c := streamingPlayer(b, size)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
