package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// Defaults for Config.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultTimeout          = 10 * time.Second
	DefaultChunkSize        = 4096
	DefaultFlashVer         = "FMLE/3.0 (compatible; Quaver)"
	DefaultReadBufferSize   = 16 << 10
	// MinReadBufferSize is the smallest read buffer accepted: the handshake
	// reads S0+S1+S2 through it.
	MinReadBufferSize = 4 << 10
	// DefaultBufferLength is the play buffer length (milliseconds) announced
	// with Set Buffer Length after play.
	DefaultBufferLength = 3000
)

// Outbound chunk stream ids, as FFmpeg uses them.
const (
	csidCommand = 3 // NetConnection commands
	csidAudio   = 4
	csidData    = 5
	csidVideo   = 6
	csidStream  = 8 // NetStream commands (publish, play, deleteStream)
)

// Config configures a Conn. Zero fields take the defaults.
type Config struct {
	// HandshakeTimeout bounds the TCP connect and the RTMP handshake
	// (default DefaultHandshakeTimeout). The context passed to Dial can
	// shorten it.
	HandshakeTimeout time.Duration
	// Timeout bounds each command's wait for its reply (connect, publish,
	// play, Call) and each write (default DefaultTimeout; negative: none).
	// The context passed to the command can shorten it.
	Timeout time.Duration
	// ChunkSize is the outbound chunk size announced with Set Chunk Size
	// right after the handshake (default DefaultChunkSize).
	ChunkSize uint32
	// FlashVer is connect's flashVer (default DefaultFlashVer).
	FlashVer string
	// Digest sends the Flash Player digest ("complex") handshake instead of
	// the simple one of the specification.
	Digest bool
	// FourCCList, when set, is sent as connect's fourCcList (Enhanced RTMP):
	// the codecs the client can publish or play, such as "hvc1", "av01".
	FourCCList []string
	// ReadBufferSize is the size of the connection's read buffer (default
	// DefaultReadBufferSize, at least MinReadBufferSize).
	ReadBufferSize int
	// BufferLength is the play buffer length in milliseconds announced after
	// play (default DefaultBufferLength).
	BufferLength uint32
	// MaxMessageSize caps an inbound message (default
	// chunkcodec.DefaultMaxMessageSize).
	MaxMessageSize uint32
	// Pool, when set, supplies the chunk decoder's payload buffers; share one
	// pool between many connections (a load generator) to bound memory.
	Pool *chunkcodec.BufferPool
	// Dialer, when set, dials the TCP connection (for example, with a Control
	// function that sets socket options). Nil means a zero net.Dialer.
	Dialer *net.Dialer
}

func (c *Config) setDefaults() {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	c.ChunkSize = min(c.ChunkSize, chunkcodec.MaxChunkSize)
	if c.FlashVer == "" {
		c.FlashVer = DefaultFlashVer
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	c.ReadBufferSize = max(c.ReadBufferSize, MinReadBufferSize)
	if c.BufferLength == 0 {
		c.BufferLength = DefaultBufferLength
	}
}

// Conn is a client connection to an RTMP server. Create it with Dial.
//
// One goroutine at a time may read (Publish, Play, Call, ReadMessage); the
// writing methods, SetReadDeadline and Close are safe from any goroutine. See
// the package doc.
type Conn struct {
	nc  net.Conn
	br  *bufio.Reader
	dec chunkcodec.Decoder
	doc amf0.Document
	url URL
	cfg Config

	nextTx float64 // last transaction id used; reader-only

	// Write side, guarded by wmu.
	wmu        sync.Mutex
	wbuf       []byte // chunk-encoded output
	cbuf       []byte // command body scratch
	streamID   uint32 // NetStream of Publish or Play, 0 before
	publishing bool
	pubName    string // name passed to publish

	// Read deadline state, guarded by dmu: the user's deadline is restored
	// after each command's own deadline.
	dmu          sync.Mutex
	userDeadline time.Time
	opActive     bool

	closed atomic.Bool
}

// Dial connects to rawURL (rtmp://host[:port]/app[/instance][/stream][?query]):
// it opens the TCP connection and performs the handshake (both bounded by
// ctx and cfg.HandshakeTimeout), announces the outbound chunk size, sends
// connect and waits for its _result (bounded by ctx and cfg.Timeout).
//
// A refused connect returns a *StatusError (for example with code
// NetConnection.Connect.Rejected). The stream part of the URL is not used by
// Dial; StreamName returns it for Publish or Play.
func Dial(ctx context.Context, rawURL string, cfg Config) (*Conn, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	cfg.setDefaults()
	hctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	d := cfg.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	nc, err := d.DialContext(hctx, "tcp", u.Host)
	if err != nil {
		if hctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: dial %s: %w", ErrTimeout, u.Host, err)
		}
		return nil, fmt.Errorf("client: dial %s: %w", u.Host, err)
	}
	c := newConn(nc, u, cfg)
	if err := c.handshake(hctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	if err := c.connect(ctx); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// newConn wraps nc, after the TCP connect and before the handshake.
func newConn(nc net.Conn, u URL, cfg Config) *Conn {
	c := &Conn{
		nc:  nc,
		br:  bufio.NewReaderSize(nc, cfg.ReadBufferSize),
		url: u,
		cfg: cfg,
	}
	c.dec.Init(chunkcodec.DecoderConfig{
		MaxMessageSize: cfg.MaxMessageSize,
		Pool:           cfg.Pool,
	})
	return c
}

// handshake runs the RTMP handshake. The handshake state (three 1536-byte
// packets) lives only for its duration.
func (c *Conn) handshake(ctx context.Context) error {
	return c.withDeadline(ctx, 0, "handshake", func() error {
		hs := &chunkcodec.ClientHandshake{Digest: c.cfg.Digest}
		out := hs.Start(make([]byte, 0, 1+chunkcodec.HandshakeSize))
		if err := c.write(out); err != nil {
			return err
		}
		for {
			p, err := c.fill()
			if err != nil {
				return err
			}
			n, reply, done, err := hs.Feed(p, out[:0])
			_, _ = c.br.Discard(n)
			if err != nil {
				return fmt.Errorf("%w: handshake: %w", ErrProtocol, err)
			}
			if done {
				return c.write(reply)
			}
		}
	})
}

// connect announces the chunk size and sends connect (transaction 1).
func (c *Conn) connect(ctx context.Context) error {
	c.wmu.Lock()
	c.wbuf = chunkcodec.AppendSetChunkSize(c.wbuf[:0], c.cfg.ChunkSize)
	b := amf0.AppendCommandStart(c.cbuf[:0], "connect", 1)
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "app", c.url.AppPath())
	b = amf0.AppendPropString(b, "type", "nonprivate")
	b = amf0.AppendPropString(b, "flashVer", c.cfg.FlashVer)
	b = amf0.AppendPropString(b, "tcUrl", c.url.TCURL())
	b = amf0.AppendPropBool(b, "fpad", false)
	b = amf0.AppendPropNumber(b, "capabilities", 15)
	b = amf0.AppendPropNumber(b, "audioCodecs", 4071)
	b = amf0.AppendPropNumber(b, "videoCodecs", 252)
	b = amf0.AppendPropNumber(b, "videoFunction", 1)
	b = amf0.AppendPropNumber(b, "objectEncoding", 0)
	if len(c.cfg.FourCCList) > 0 {
		b = amf0.AppendKey(b, "fourCcList")
		b = amf0.AppendStrictArrayStart(b, uint32(len(c.cfg.FourCCList)))
		for _, f := range c.cfg.FourCCList {
			b = amf0.AppendString(b, f)
		}
	}
	b = amf0.AppendObjectEnd(b)
	c.cbuf = b
	c.wbuf = c.appendCommandLocked(c.wbuf, csidCommand, 0, b)
	// The chunk size applies from the message after Set Chunk Size on.
	err := c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	c.nextTx = 1
	_, err = c.awaitResult(ctx, "connect", 1)
	return err
}

// ReadMessage returns the next message for the application: audio (8),
// video (9), data (18, 15), aggregate (22), command (20, 17: onStatus,
// _result, ...) and the user control stream events (4: Stream Begin, Stream
// EOF, Stream Dry, Stream Is Recorded; see UserControlEvent). Protocol
// control messages, Ping Requests and other user control events are handled
// internally: the inbound chunk size and acknowledgement window follow the
// server, and Acknowledgements and Ping Responses are sent.
//
// The message and its payload are owned by the Conn and valid until the next
// read (ReadMessage, Publish, Play, Call). In steady state ReadMessage does not
// allocate. It returns io.EOF when the server closed the connection, and an
// error wrapping ErrTimeout when the read deadline passed (the Conn stays
// usable: call SetReadDeadline and read again).
func (c *Conn) ReadMessage() (*chunkcodec.Message, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	m, err := c.next()
	if err != nil {
		if c.closed.Load() {
			// Closed by another goroutine: give the decoder's buffers back
			// (to Config.Pool) from the reading goroutine that owns them.
			c.dec.Release()
		}
		return nil, c.mapErr(err)
	}
	return m, nil
}

// next returns the next message the application may see. It is the one read
// loop that ReadMessage and every command's wait use.
func (c *Conn) next() (*chunkcodec.Message, error) {
	for {
		p, err := c.fill()
		if err != nil {
			return nil, err
		}
		for len(p) > 0 {
			n, m, err := c.dec.Feed(p)
			p = p[n:]
			_, _ = c.br.Discard(n)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if seq, due := c.dec.AckDue(); due {
				if err := c.writeControl(func(b []byte) []byte { return chunkcodec.AppendAck(b, seq) }); err != nil {
					return nil, err
				}
			}
			if m == nil {
				continue
			}
			if c.handleControl(m) {
				continue
			}
			return m, nil
		}
	}
}

// fill returns the buffered bytes, reading once from the socket when none are.
func (c *Conn) fill() ([]byte, error) {
	if c.br.Buffered() == 0 {
		if _, err := c.br.Peek(1); err != nil {
			return nil, err
		}
	}
	p, _ := c.br.Peek(c.br.Buffered())
	return p, nil
}

// handleControl applies or answers a control message and reports whether it
// was consumed (not for the application).
func (c *Conn) handleControl(m *chunkcodec.Message) bool {
	switch m.TypeID {
	case chunkcodec.TypeSetChunkSize, chunkcodec.TypeAbort, chunkcodec.TypeAck,
		chunkcodec.TypeWindowAckSize, chunkcodec.TypeSetPeerBandwidth:
		return true // applied by the decoder, or nothing to do
	case chunkcodec.TypeUserControl:
		uc, err := chunkcodec.ParseUserControl(m.Payload)
		if err != nil {
			return true // lenient: ignore a malformed event
		}
		switch uc.Event {
		case chunkcodec.EventPingRequest:
			_ = c.writeControl(func(b []byte) []byte { return chunkcodec.AppendPingResponse(b, uc.Data) })
			return true
		case chunkcodec.EventStreamBegin, chunkcodec.EventStreamEOF,
			chunkcodec.EventStreamDry, chunkcodec.EventStreamIsRecorded:
			return false
		}
		return true
	}
	return false
}

// UserControlEvent decodes a user control message returned by ReadMessage
// (TypeID chunkcodec.TypeUserControl). ok is false for other messages.
func UserControlEvent(m *chunkcodec.Message) (ev chunkcodec.UserControl, ok bool) {
	if m == nil || m.TypeID != chunkcodec.TypeUserControl {
		return ev, false
	}
	ev, err := chunkcodec.ParseUserControl(m.Payload)
	return ev, err == nil
}

// WriteMessage sends one audio (8), video (9) or data (18, 15) message, or an
// aggregate (22), with timestamp ts on the publishing stream. payload is the
// FLV tag body (for example a video tag header and NAL units) and may be
// reused when WriteMessage returns. Safe from any goroutine; each write is
// bounded by Config.Timeout.
func (c *Conn) WriteMessage(typeID uint8, ts uint32, payload []byte) error {
	var csid uint32
	switch typeID {
	case chunkcodec.TypeAudio:
		csid = csidAudio
	case chunkcodec.TypeVideo:
		csid = csidVideo
	case chunkcodec.TypeDataAMF0, chunkcodec.TypeDataAMF3, chunkcodec.TypeAggregate:
		csid = csidData
	default:
		return fmt.Errorf("%w: %d", ErrMessageType, typeID)
	}
	return c.writeMedia(csid, typeID, ts, payload)
}

// WriteMetaData sends stream metadata: md is an onMetaData body ("onMetaData"
// followed by an ECMA array or object, as in an FLV script tag, for example
// from flvmux.AppendOnMetaData). It is sent as the data message
// "@setDataFrame", "onMetaData", {...} that servers store for joining players;
// a body that already starts with "@setDataFrame" is sent as is. Safe from any
// goroutine.
func (c *Conn) WriteMetaData(md []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.publishing {
		return ErrNotPublishing
	}
	b := c.cbuf[:0]
	if len(md) == len(stripSetDataFrame(md)) {
		b = amf0.AppendString(b, "@setDataFrame")
	}
	b = append(b, md...)
	c.cbuf = b
	c.wbuf = chunkcodec.AppendMessage(c.wbuf[:0], chunkcodec.Header{
		ChunkStreamID: csidData, TypeID: chunkcodec.TypeDataAMF0, StreamID: c.streamID,
	}, b, c.cfg.ChunkSize)
	return c.flushLocked()
}

func stripSetDataFrame(b []byte) []byte {
	const prefix = "\x02\x00\x0d@setDataFrame"
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):]
	}
	return b
}

func (c *Conn) writeMedia(csid uint32, typeID uint8, ts uint32, payload []byte) error {
	if len(payload) > chunkcodec.MaxMessageLength {
		return fmt.Errorf("%w: payload of %d bytes exceeds the 24-bit message length", ErrMessageType, len(payload))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.publishing {
		return ErrNotPublishing
	}
	c.wbuf = chunkcodec.AppendMessage(c.wbuf[:0], chunkcodec.Header{
		ChunkStreamID: csid, Timestamp: ts, TypeID: typeID, StreamID: c.streamID,
	}, payload, c.cfg.ChunkSize)
	return c.flushLocked()
}

// writeControl appends a control message with fn and sends it.
func (c *Conn) writeControl(fn func([]byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = fn(c.wbuf[:0])
	return c.flushLocked()
}

// write sends b (handshake bytes) under the write lock.
func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = append(c.wbuf[:0], b...)
	return c.flushLocked()
}

// flushLocked writes wbuf, bounded by Config.Timeout. Caller holds wmu.
func (c *Conn) flushLocked() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.cfg.Timeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.cfg.Timeout))
	}
	_, err := c.nc.Write(c.wbuf)
	if err != nil {
		return c.mapErr(err)
	}
	return nil
}

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

// Close closes the connection. When it can do so without waiting for a
// blocked write, it first tells the server the stream is done (FCUnpublish
// and deleteStream for a publisher, deleteStream for a player). It unblocks
// a read in progress. Safe from any goroutine; later calls return nil.
func (c *Conn) Close() error {
	if !c.wmu.TryLock() {
		// A write is blocked: closing the socket unblocks it.
		if c.closed.Swap(true) {
			return nil
		}
		return c.nc.Close()
	}
	if c.closed.Load() {
		c.wmu.Unlock()
		return nil
	}
	if c.streamID != 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		b := c.wbuf[:0]
		if c.publishing {
			b, _ = c.appendCallLocked(b, csidCommand, 0, "FCUnpublish", 0, c.pubName)
		}
		b, _ = c.appendCallLocked(b, csidStream, 0, "deleteStream", 0, float64(c.streamID))
		_, _ = c.nc.Write(b)
		c.wbuf = b[:0]
	}
	c.closed.Store(true)
	c.wmu.Unlock()
	return c.nc.Close()
}

// RawConn returns the underlying connection, for tests that write raw bytes
// and for socket options. Reading from it desynchronises the Conn.
func (c *Conn) RawConn() net.Conn { return c.nc }

// URL returns the parsed URL the Conn was dialled with.
func (c *Conn) URL() URL { return c.url }

// StreamName returns the stream name (with its query string) from the URL
// passed to Dial, or "" when the URL named only an app.
func (c *Conn) StreamName() string { return c.url.Stream }

// StreamID returns the message stream id of the stream being published or
// played, 0 before Publish or Play.
func (c *Conn) StreamID() uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.streamID
}

// BytesReceived returns the bytes read from the chunk stream since the
// handshake. Call it from the reading goroutine.
func (c *Conn) BytesReceived() uint64 { return c.dec.BytesReceived() }
