package server_test

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quaverlive/quaver/internal/testcert"
	"github.com/quaverlive/quaver/server"
)

// TestHTTPSAndWSS: with HTTPSAddr, HTTP-FLV and WebSocket-FLV plays work
// over TLS (ffprobe reads https://, a WebSocket client reads wss://), and a
// renewed certificate is served after Reload without a restart.
func TestHTTPSAndWSS(t *testing.T) {
	ffmpeg, ffprobe := requireFFmpeg(t)
	ctx := testContext(t)
	dir := t.TempDir()
	certFile, keyFile := testcert.Files(t, dir)
	certs, err := server.LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{HTTPSAddr: "127.0.0.1:0", TLS: certs.TLSConfig()}, nil)
	if ts.HTTPSAddr() == "" {
		t.Fatal("no HTTPS address")
	}
	args := ffmpegArgs(append([]string{"-re"}, lavfiInputs...)...)
	args = append(append(args, "-t", "30"), h264Output...)
	pub := startProc(t, ctx, ffmpeg, append(args, "-f", "flv", ts.url("live/tls"))...)
	if !waitFor(publishWait, func() bool { return ts.publishing("live", "tls") }) {
		t.Fatalf("not publishing: %s", pub.stderr.String())
	}

	out := runProc(t, 30*time.Second, ffprobe, "-v", "error", "-tls_verify", "0", "-show_entries", "stream=codec_name",
		"-of", "csv=p=0", "https://"+ts.HTTPSAddr()+"/live/tls.flv")
	if !strings.Contains(out, "h264") {
		t.Errorf("ffprobe over https:// found %q", out)
	}

	d := ws.Dialer{Timeout: 5 * time.Second, TLSConfig: &tls.Config{InsecureSkipVerify: true}} // the test's self-signed certificate
	conn, br, _, err := d.Dial(ctx, "wss://"+ts.HTTPSAddr()+"/live/tls.flv")
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer conn.Close()
	c := &hxWS{Conn: conn, rd: conn}
	if br != nil {
		c.rd = br
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, p, err := c.hxReadFrame()
	if err != nil || h.OpCode != ws.OpBinary || !bytes.HasPrefix(p, []byte("FLV")) {
		t.Fatalf("first wss frame: %v %v %.8q", err, h.OpCode, p)
	}

	serial := func() string {
		c, err := tls.Dial("tcp", ts.HTTPSAddr(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	testcert.Files(t, dir) // renewed in place
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := serial(); after == before {
		t.Error("the renewed certificate is not served after Reload")
	}
}
