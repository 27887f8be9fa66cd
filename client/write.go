package client

import (
	"fmt"
	"time"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// The write side of a Conn: media, metadata and control messages, all sent
// under wmu and bounded by Config.Timeout.

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
