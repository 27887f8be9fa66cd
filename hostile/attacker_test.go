package hostile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// Attackers dial from 127.0.0.2 upwards (Linux routes all of 127.0.0.0/8 to
// the loopback interface), so that per-IP limits apply to them and not to the
// honest clients on 127.0.0.1.
const (
	attackDialTimeout = 3 * time.Second
	// rawChunkSize is the chunk size raw attackers announce and encode with.
	rawChunkSize = 4096
	// csidCommand is the chunk stream raw attackers send commands on.
	csidCommand = 3
)

// attackerIP returns the i-th attacker address: 127.0.0.2 ... 127.0.0.250.
func attackerIP(i int) net.IP { return net.IPv4(127, 0, 0, byte(2+i%249)) }

// attackerDialer dials from ip; rcvbuf > 0 sets SO_RCVBUF before connect.
func attackerDialer(ip net.IP, rcvbuf int) *net.Dialer {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: attackDialTimeout}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d
}

// attackerConfig is the client configuration of an attacker using the client
// library.
func attackerConfig(ip net.IP, rcvbuf int) client.Config {
	return client.Config{
		HandshakeTimeout: attackDialTimeout,
		Timeout:          attackDialTimeout,
		Dialer:           attackerDialer(ip, rcvbuf),
	}
}

// rtmpHandshake runs the client side of the RTMP handshake on nc within bound.
func rtmpHandshake(nc net.Conn, bound time.Duration) error {
	_ = nc.SetDeadline(time.Now().Add(bound))
	defer nc.SetDeadline(time.Time{})
	var hs chunkcodec.ClientHandshake
	if _, err := nc.Write(hs.Start(nil)); err != nil {
		return err
	}
	buf := make([]byte, 0, 2*chunkcodec.HandshakeSize+1)
	tmp := make([]byte, 4096)
	for {
		n, err := nc.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if len(buf) > 0 {
			k, reply, done, ferr := hs.Feed(buf, nil)
			buf = buf[k:]
			if ferr != nil {
				return ferr
			}
			if done {
				_, err := nc.Write(reply)
				return err
			}
		}
		if err != nil {
			return err
		}
	}
}

// appendCommand appends the chunk-encoded AMF0 command name(tx, null,
// args...) on message stream streamID.
func appendCommand(dst []byte, streamID uint32, name string, tx float64, args ...any) []byte {
	body := amf0.AppendCommandStart(nil, name, tx)
	body = amf0.AppendNull(body)
	for _, a := range args {
		var err error
		if body, err = amf0.AppendAny(body, a); err != nil {
			panic(err) // test bug: only encodable values are passed
		}
	}
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{
		ChunkStreamID: csidCommand, TypeID: chunkcodec.TypeCommandAMF0, StreamID: streamID,
	}, body, rawChunkSize)
}

// appendConnect appends Set Chunk Size (rawChunkSize) and connect to app.
func appendConnect(dst []byte, addr, app string) []byte {
	dst = chunkcodec.AppendSetChunkSize(dst, rawChunkSize)
	body := amf0.AppendCommandStart(nil, "connect", 1)
	body = amf0.AppendObjectStart(body)
	body = amf0.AppendPropString(body, "app", app)
	body = amf0.AppendPropString(body, "type", "nonprivate")
	body = amf0.AppendPropString(body, "flashVer", "LNX 9,0,124,2")
	body = amf0.AppendPropString(body, "tcUrl", "rtmp://"+addr+"/"+app)
	body = amf0.AppendPropNumber(body, "objectEncoding", 0)
	body = amf0.AppendObjectEnd(body)
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{
		ChunkStreamID: csidCommand, TypeID: chunkcodec.TypeCommandAMF0,
	}, body, rawChunkSize)
}

// dialRaw dials addr from ip, runs the handshake and sends Set Chunk Size and
// connect to "live" without waiting for the reply.
func dialRaw(ctx context.Context, addr string, ip net.IP, rcvbuf int) (net.Conn, error) {
	nc, err := attackerDialer(ip, rcvbuf).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := rtmpHandshake(nc, attackDialTimeout); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if _, err := nc.Write(appendConnect(nil, addr, "live")); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return nc, nil
}

// drainUntilClosed reads nc for at most bound and at most maxBytes, and
// reports whether the peer closed it (EOF or reset) within that.
func drainUntilClosed(nc net.Conn, bound time.Duration, maxBytes int64) (closed bool, n int64) {
	_ = nc.SetReadDeadline(time.Now().Add(bound))
	buf := make([]byte, 64<<10)
	for n < maxBytes {
		k, err := nc.Read(buf)
		n += int64(k)
		if err != nil {
			return isPeerClosed(err), n
		}
	}
	return false, n
}

// isPeerClosed reports whether err means the peer closed the connection.
func isPeerClosed(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// httpGet sends a raw GET for path (exactly as given: no cleaning, no
// escaping) from ip and returns the status code and up to maxBody bytes of the
// response body, all within bound.
func httpGet(addr string, ip net.IP, path string, bound time.Duration, maxBody int64) (int, []byte, error) {
	nc, err := attackerDialer(ip, 0).Dial("tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(bound))
	if _, err := fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReader(nc)
	status, err := br.ReadString('\n')
	if err != nil {
		return 0, nil, err
	}
	f := strings.Fields(status)
	if len(f) < 2 {
		return 0, nil, fmt.Errorf("bad status line %q", status)
	}
	code, _ := strconv.Atoi(f[1])
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return code, nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(br, maxBody))
	if err != nil && !isPeerClosed(err) {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return code, body, err
		}
	}
	return code, body, nil
}
