package enginetest

import (
	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// What a client sends, as bytes for sessions on fake connections.

// Hello is C0, C1 and C2 of the simple handshake (zero time, zero version),
// which a server answers with S0, S1 and S2 (1 + 2*HandshakeSize bytes).
func Hello() []byte {
	hs := make([]byte, 1+2*chunkcodec.HandshakeSize)
	hs[0] = 3
	return hs
}

// Command chunk-encodes an AMF0 command with a null command object and args
// (chunk size 128, as a client starts).
func Command(streamID uint32, name string, tx float64, args ...any) []byte {
	b := amf0.AppendCommandStart(nil, name, tx)
	b = amf0.AppendNull(b)
	for _, a := range args {
		b, _ = amf0.AppendAny(b, a)
	}
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0, StreamID: streamID}, b, chunkcodec.DefaultChunkSize)
}

// Connect is a connect command to app.
func Connect(app string) []byte {
	b := amf0.AppendCommandStart(nil, "connect", 1)
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "app", app)
	b = amf0.AppendPropString(b, "tcUrl", "rtmp://127.0.0.1/"+app)
	b = amf0.AppendPropNumber(b, "objectEncoding", 0)
	b = amf0.AppendObjectEnd(b)
	return chunkcodec.AppendMessage(nil, chunkcodec.Header{ChunkStreamID: 3, TypeID: chunkcodec.TypeCommandAMF0}, b, chunkcodec.DefaultChunkSize)
}

// Zeros is a source of zero bytes: a deterministic handshake without
// crypto/rand.
type Zeros struct{}

func (Zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
