package chunkcodec

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// ffmpegCapturePath holds what ffmpeg 5.1 sent after the handshake when it
// published to TestFFmpegPublishLive's server, which sends Set Chunk Size,
// Window Acknowledgement Size, Set Peer Bandwidth and Ping Request but never
// answers connect: connect, Set Chunk Size and Ping Response.
var ffmpegCapturePath = filepath.Join("testdata", "ffmpeg-connect.bin")

var ccUpdateCapture = flag.Bool("chunkcodec.update-capture", false,
	"rewrite "+ffmpegCapturePath+" from a live ffmpeg publish")

// ccCheckFFmpegConnect decodes what an ffmpeg publisher sends after the
// handshake and checks for Set Chunk Size and the connect command.
func ccCheckFFmpegConnect(t *testing.T, wire []byte) {
	t.Helper()
	for _, next := range []func(int) int{ccWhole, ccOneByte, ccRandomSplits(7)} {
		r := ccFeed(NewDecoder(DecoderConfig{}), wire, next)
		if r.err != nil {
			t.Fatalf("decoding ffmpeg's bytes: %v", r.err)
		}
		var setChunk, connect bool
		for _, m := range r.msgs {
			switch m.TypeID {
			case TypeSetChunkSize:
				v, err := ParseUint32Payload(m.Payload)
				setChunk = err == nil && v >= DefaultChunkSize
			case TypeCommandAMF0:
				// AMF0 string marker, 16-bit length, "connect".
				connect = connect || bytes.HasPrefix(m.Payload, []byte("\x02\x00\x07connect"))
			}
		}
		if !setChunk || !connect {
			t.Fatalf("want Set Chunk Size and connect, got\n%v", r)
		}
	}
}

// ccFFmpegDone reports whether wire holds a connect command, a Set Chunk Size
// and a Ping Response.
func ccFFmpegDone(wire []byte) bool {
	r := ccFeed(NewDecoder(DecoderConfig{}), wire, ccWhole)
	var connect, setChunk, pong bool
	for _, m := range r.msgs {
		switch m.TypeID {
		case TypeCommandAMF0:
			connect = connect || bytes.HasPrefix(m.Payload, []byte("\x02\x00\x07connect"))
		case TypeSetChunkSize:
			setChunk = true
		case TypeUserControl:
			u, err := ParseUserControl(m.Payload)
			pong = pong || (err == nil && u.Event == EventPingResponse)
		}
	}
	return connect && setChunk && pong
}

func TestFFmpegConnectCapture(t *testing.T) {
	wire, err := os.ReadFile(ffmpegCapturePath)
	if err != nil {
		t.Fatal(err)
	}
	ccCheckFFmpegConnect(t, wire)

	// The capture holds, in order: connect (140 bytes, two chunks), Set
	// Chunk Size 4096 echoing ours, and a Ping Response to our Ping Request
	// with a type 1 header on chunk stream 2.
	d := NewDecoder(DecoderConfig{})
	r := ccFeed(d, wire, ccWhole)
	if len(r.msgs) != 3 || r.msgs[0].TypeID != TypeCommandAMF0 || r.msgs[0].Length != 140 ||
		r.msgs[1].TypeID != TypeSetChunkSize || r.msgs[2].TypeID != TypeUserControl {
		t.Fatalf("unexpected messages:\n%v", r)
	}
	if d.ChunkSize() != 4096 {
		t.Fatalf("chunk size %d after ffmpeg's Set Chunk Size, want 4096", d.ChunkSize())
	}
	u, err := ParseUserControl(r.msgs[2].Payload)
	if err != nil || u != (UserControl{Event: EventPingResponse, Data: 12345}) {
		t.Fatalf("ping response %+v, %v", u, err)
	}
}

// TestFFmpegPublishLive accepts a real ffmpeg publisher on 127.0.0.1,
// answers a plain simple handshake (S0 = 3, S1 with zero version bytes so
// ffmpeg does not expect a digest, S2 = echo of C1), sends the usual control
// messages, records what ffmpeg sends until connect, Set Chunk Size and Ping
// Response have arrived (never answering connect), and decodes it. With
// -chunkcodec.update-capture it rewrites the committed capture:
//
//	go test -run TestFFmpegPublishLive ./chunkcodec -args -chunkcodec.update-capture
func TestFFmpegPublishLive(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	if testing.Short() {
		t.Skip("runs ffmpeg")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "2", "-c:v", "libx264", "-c:a", "aac", "-f", "flv",
		"rtmp://127.0.0.1:"+strconv.Itoa(port)+"/live/test")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Skipf("starting ffmpeg: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	defer func() {
		cancel()
		<-exited
	}()

	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		select {
		case <-exited:
			t.Skipf("ffmpeg exited without connecting: %s", stderr.String())
		default:
		}
		t.Fatalf("accept: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))

	c0c1 := make([]byte, 1+1536)
	if _, err := io.ReadFull(conn, c0c1); err != nil {
		t.Fatalf("reading C0C1: %v", err)
	}
	if c0c1[0] != 3 {
		t.Fatalf("C0 = %d", c0c1[0])
	}
	s0s1s2 := make([]byte, 0, 1+2*1536)
	s0s1s2 = append(s0s1s2, 3)
	s0s1s2 = append(s0s1s2, make([]byte, 8)...) // time 0, version 0: simple handshake
	for i := range 1536 - 8 {
		s0s1s2 = append(s0s1s2, byte(i*31+7))
	}
	s0s1s2 = append(s0s1s2, c0c1[1:]...)
	if _, err := conn.Write(s0s1s2); err != nil {
		t.Fatalf("writing S0S1S2: %v", err)
	}
	c2 := make([]byte, 1536)
	if _, err := io.ReadFull(conn, c2); err != nil {
		t.Fatalf("reading C2: %v", err)
	}

	// ffmpeg sends connect at once and waits for _result; meanwhile it
	// answers the server's Set Chunk Size with its own and a Ping Request
	// with a Ping Response.
	var ctl []byte
	ctl = AppendSetChunkSize(ctl, 4096)
	ctl = AppendWindowAckSize(ctl, 2500000)
	ctl = AppendSetPeerBandwidth(ctl, 2500000, LimitDynamic)
	ctl = AppendPingRequest(ctl, 12345)
	if _, err := conn.Write(ctl); err != nil {
		t.Fatalf("writing control messages: %v", err)
	}
	// Read until connect, Set Chunk Size and Ping Response have all arrived
	// (ffmpeg then waits for _result and sends nothing more), within a
	// deadline.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var wire []byte
	buf := make([]byte, 4096)
	for !ccFFmpegDone(wire) {
		n, err := conn.Read(buf)
		wire = append(wire, buf[:n]...)
		if err != nil {
			t.Fatalf("reading after %d bytes: %v\n%v", len(wire), err, ccFeed(NewDecoder(DecoderConfig{}), wire, ccWhole))
		}
		if len(wire) > 8<<10 {
			t.Fatalf("more than 8 KiB without connect, Set Chunk Size and Ping Response")
		}
	}
	ccCheckFFmpegConnect(t, wire)
	if *ccUpdateCapture {
		if err := os.WriteFile(ffmpegCapturePath, wire, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d bytes to %s", len(wire), ffmpegCapturePath)
	}
}
