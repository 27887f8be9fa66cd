package client

import (
	"bufio"
	"context"
	"fmt"
	"net"
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
	// DialContext, when set, opens the connection instead of Dialer: it may
	// return a net.Conn of its own that wraps the socket (for example, one
	// that reads with recvmsg for receive timestamps). It is called with
	// network "tcp" and the URL's host:port, under the handshake timeout.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)
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
	dial := cfg.DialContext
	if dial == nil {
		d := cfg.Dialer
		if d == nil {
			d = &net.Dialer{}
		}
		dial = d.DialContext
	}
	nc, err := dial(hctx, "tcp", u.Host)
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
