package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
)

// playerKind is how a player plays the stream.
type playerKind uint8

const (
	kindRTMP playerKind = iota
	kindHTTP
	kindWS
	numKinds
)

var kindNames = [numKinds]string{"rtmp", "http-flv", "ws-flv"}

func (k playerKind) String() string { return kindNames[k] }

// Player states.
const (
	stateConnecting int32 = iota // dialling, handshake, play
	stateConnected               // playing
	stateFailed                  // the connect failed
	stateDropped                 // the stream ended or failed before the run stopped
)

// player is one playing connection's counters. The counters are written by
// the player's goroutine and read by the run's goroutine; snap* belong to the
// run's goroutine. The read buffers live in the player's goroutine, so the
// struct stays small for thousands of players.
type player struct {
	id    int
	kind  playerKind
	storm bool  // started by the join storm (-storm), during the window
	start int64 // connect start, ns since the run's t0
	state atomic.Int32

	connect    atomic.Int64  // connect time (ns): connect start to playing, 0 before
	frames     atomic.Uint64 // video frames (sequence headers not counted)
	bytes      atomic.Uint64 // bytes read from the connection
	firstFrame atomic.Int64  // time to first video frame (ns), 0 before it
	lastFrame  atomic.Int64  // arrival of the last video frame, ns since t0
	maxGap     atomic.Int64  // largest gap between video frames while measuring (ns)

	snapFrames, snapBytes uint64 // counters at window start
}

// errWSClosed reports a WebSocket close frame from the server.
var errWSClosed = errors.New("websocket closed by server")

// onVideo accounts for one video message payload (an FLV video tag body)
// received by p; rx is the arrival stamp of the read that completed it (Unix
// ns, 0 when unknown). It does not allocate.
func (r *runner) onVideo(p *player, payload []byte, rx int64) {
	if flvmux.IsVideoSequenceHeader(payload) {
		return
	}
	now := time.Now()
	mono := int64(now.Sub(r.t0))
	if p.frames.Add(1) == 1 {
		p.firstFrame.Store(max(mono-p.start, 1))
	}
	last := p.lastFrame.Swap(mono)
	// A storm player's first frames are the server's cached GOP, sent
	// seconds after their capture: its frames count for neither latency
	// nor stalls, which are the base players'.
	measuring := r.measuring.Load() && !p.storm
	if measuring && last != 0 && mono-last > p.maxGap.Load() {
		p.maxGap.Store(mono - last)
	}
	sent, seq, ok := ReadStamp(payload)
	if !ok {
		return
	}
	if measuring {
		r.latency.record(p.id, now.UnixNano()-sent)
		if rx != 0 {
			r.socketLatency.record(p.id, rx-sent)
		}
	}
	for { // r.maxSeq is one more than the highest sequence number seen
		m := r.maxSeq.Load()
		if seq+1 <= m || r.maxSeq.CompareAndSwap(m, seq+1) {
			break
		}
	}
}

// connected records p's connect time (from connect start: after
// NetStream.Play.Start for RTMP, the HTTP response headers for HTTP-FLV, the
// WebSocket upgrade response for WS-FLV), marks p as playing and releases its
// slot in the connect wait group.
func (r *runner) connected(p *player) {
	p.connect.Store(max(int64(time.Since(r.t0))-p.start, 1))
	if p.state.CompareAndSwap(stateConnecting, stateConnected) {
		wg, _ := r.connectGroup(p)
		wg.Done()
	}
}

// connectGroup returns the wait group that waits for p's connect and the
// counts its connect error goes to: the storm's for storm players.
func (r *runner) connectGroup(p *player) (*sync.WaitGroup, *errorCounts) {
	if p.storm {
		return &r.storm.connWG, &r.storm.connectErrs
	}
	return &r.connWG, &r.connectErrs
}

// runPlayer plays until ctx ends or the stream fails, and records how it ended.
func (r *runner) runPlayer(ctx context.Context, p *player) {
	defer r.wg.Done()
	p.start = int64(time.Since(r.t0))
	var err error
	switch p.kind {
	case kindRTMP:
		err = r.playRTMP(ctx, p)
	case kindHTTP:
		err = r.playHTTP(ctx, p)
	case kindWS:
		err = r.playWS(ctx, p)
	}
	if p.state.CompareAndSwap(stateConnecting, stateFailed) {
		wg, errs := r.connectGroup(p)
		wg.Done()
		errs.add(err)
		return
	}
	if ctx.Err() == nil {
		p.state.Store(stateDropped)
		if err == nil {
			err = io.EOF
		}
		r.dropErrs.add(err)
	}
}

// playRTMP plays r.cfg.URL over RTMP.
func (r *runner) playRTMP(ctx context.Context, p *player) error {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	c, err := client.Dial(cctx, r.cfg.URL, r.clientConfig())
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Play(cctx, c.StreamName()); err != nil {
		return err
	}
	r.connected(p)
	rx := rxOf(c.RawConn())
	if r.cfg.ReadInterval > 0 {
		return r.readRTMPPaced(p, c, rx)
	}
	for {
		if err := r.readRTMPMessage(p, c, rx); err != nil {
			return err
		}
	}
}

// clientConfig is the RTMP client configuration of players and the publisher.
func (r *runner) clientConfig() client.Config {
	return client.Config{
		HandshakeTimeout: r.cfg.Timeout,
		Timeout:          r.cfg.Timeout,
		ReadBufferSize:   r.cfg.ReadBuffer,
		Pool:             r.pool,
		DialContext:      r.dial,
	}
}

// feedFLV passes FLV bytes received by p through its reader; rx is the
// arrival stamp of the read that returned them (0 when unknown).
func (r *runner) feedFLV(p *player, fr *flvmux.Reader, b []byte, rx int64) error {
	for len(b) > 0 {
		n, tag, err := fr.Feed(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if tag != nil && tag.Type == flvmux.TagVideo {
			r.onVideo(p, tag.Data, rx)
		}
	}
	return nil
}

// playHTTP plays r.cfg.HTTPURL as HTTP-FLV.
func (r *runner) playHTTP(ctx context.Context, p *player) error {
	var nc net.Conn // the connection the response came on
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { nc = i.Conn }})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.HTTPURL, nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	r.connected(p)
	arm(nc) // with -read-interval
	rx := rxOf(nc)
	buf := make([]byte, r.cfg.ReadBuffer)
	var fr flvmux.Reader
	var total uint64
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			total += uint64(n)
			p.bytes.Store(total)
			if ferr := r.feedFLV(p, &fr, buf[:n], rx.stamp()); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

// newHTTPClient returns the HTTP client of the HTTP-FLV players: no proxy, no
// compression, connections from dial, a response-header timeout; with a read
// interval, paced connections, one per request.
func newHTTPClient(dial dialFunc, timeout, readInterval time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           pacedDial(dial, readInterval),
		DisableCompression:    true,
		DisableKeepAlives:     readInterval > 0,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   1,
	}}
}

// playWS plays r.cfg.WSURL as WebSocket-FLV: the payloads of the binary
// frames, concatenated, are an FLV stream.
func (r *runner) playWS(ctx context.Context, p *player) error {
	d := ws.Dialer{Timeout: r.cfg.Timeout, NetDial: pacedDial(r.dial, r.cfg.ReadInterval)}
	conn, br, _, err := d.Dial(ctx, r.cfg.WSURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r.connected(p)
	arm(conn) // with -read-interval
	w := &wsReader{r: r, p: p, conn: conn, rx: rxOf(conn)}
	buf := make([]byte, r.cfg.ReadBuffer)
	var total uint64
	if br != nil { // frames that arrived with the handshake response
		for br.Buffered() > 0 {
			n, _ := br.Read(buf)
			total += uint64(n)
			if err := w.feed(buf[:n]); err != nil {
				ws.PutReader(br)
				return err
			}
		}
		ws.PutReader(br)
	}
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			total += uint64(n)
			p.bytes.Store(total)
			if ferr := w.feed(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

// maxWSHeader is the longest WebSocket frame header (RFC 6455 5.2): 2 bytes,
// an 8-byte extended length and a 4-byte mask.
const maxWSHeader = 14

// wsReader is a push decoder for server-to-client WebSocket frames (RFC 6455
// section 5.2): data frame payloads go to an FLV reader as they arrive, with
// no copy; control frames are collected and ping is answered with pong.
type wsReader struct {
	r    *runner
	p    *player
	conn net.Conn
	rx   *rxConn // conn's receive stamps, or nil
	fr   flvmux.Reader

	hdr     [maxWSHeader]byte
	hn      int // header bytes held
	inFrame bool
	opcode  ws.OpCode
	remain  uint64 // payload bytes left in the current frame
	ctl     [125]byte
	cn      int
}

// wsHeaderLen returns the length of the frame header that starts with b0, b1.
func wsHeaderLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// feed consumes received bytes. It does not allocate except to answer a ping.
func (w *wsReader) feed(b []byte) error {
	for len(b) > 0 {
		if !w.inFrame {
			need := 2
			if w.hn >= 2 {
				need = wsHeaderLen(w.hdr[1])
			}
			n := copy(w.hdr[w.hn:need], b)
			w.hn += n
			b = b[n:]
			if w.hn < 2 || w.hn < wsHeaderLen(w.hdr[1]) {
				continue
			}
			if err := w.startFrame(); err != nil {
				return err
			}
			if w.remain == 0 {
				if err := w.endFrame(); err != nil {
					return err
				}
			}
			continue
		}
		n := min(uint64(len(b)), w.remain)
		chunk := b[:n]
		b = b[n:]
		w.remain -= n
		if w.opcode < ws.OpClose { // continuation, text, binary: FLV bytes
			if err := w.r.feedFLV(w.p, &w.fr, chunk, w.rx.stamp()); err != nil {
				return err
			}
		} else {
			w.cn += copy(w.ctl[w.cn:], chunk)
		}
		if w.remain == 0 {
			if err := w.endFrame(); err != nil {
				return err
			}
		}
	}
	return nil
}

// startFrame parses the complete header in w.hdr.
func (w *wsReader) startFrame() error {
	b0, b1 := w.hdr[0], w.hdr[1]
	if b1&0x80 != 0 {
		return errors.New("websocket: masked frame from server")
	}
	w.opcode = ws.OpCode(b0 & 0x0f)
	switch n := b1 & 0x7f; n {
	case 126:
		w.remain = uint64(binary.BigEndian.Uint16(w.hdr[2:]))
	case 127:
		w.remain = binary.BigEndian.Uint64(w.hdr[2:])
	default:
		w.remain = uint64(n)
	}
	if w.opcode >= ws.OpClose && w.remain > 125 {
		return errors.New("websocket: control frame over 125 bytes")
	}
	w.inFrame, w.hn, w.cn = true, 0, 0
	return nil
}

// endFrame acts on a finished frame: close ends the play, ping gets a pong.
func (w *wsReader) endFrame() error {
	w.inFrame = false
	switch w.opcode {
	case ws.OpClose:
		return errWSClosed
	case ws.OpPing:
		f := ws.MaskFrameInPlace(ws.NewPongFrame(append([]byte(nil), w.ctl[:w.cn]...)))
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.r.cfg.Timeout))
		return ws.WriteFrame(w.conn, f)
	}
	return nil
}
