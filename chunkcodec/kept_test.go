package chunkcodec

import (
	"bytes"
	"testing"
)

// keptCapacity sums the buffers the Decoder's chunk streams hold.
func (d *Decoder) keptCapacity() int {
	n := 0
	for i := range d.streams {
		n += len(d.streams[i].buf)
	}
	return n
}

// A peer completing one large message on each of many chunk streams used to
// leave every buffer behind (MaxChunkStreams x MaxMessageSize per
// connection); kept buffers are now capped by MaxKeptBytes.
func TestKeptBuffersCapped(t *testing.T) {
	pool := NewBufferPool()
	d := NewDecoder(DecoderConfig{MaxKeptBytes: 2 << 20, Pool: pool})
	const size = 1 << 20
	for csid := uint32(3); csid < 3+40; csid++ {
		wire := bgCat(bgMsg(csid, size)...)
		for len(wire) > 0 {
			n, m, err := d.Feed(wire)
			if err != nil {
				t.Fatal(err)
			}
			wire = wire[n:]
			if m != nil && (len(m.Payload) != size || !bytes.Equal(m.Payload[:64], ccPayload(size, byte(csid))[:64])) {
				t.Fatalf("csid %d: payload corrupted", csid)
			}
		}
	}
	_, _, _ = d.Feed(nil) // consume the last message: its buffer may go now
	if got := d.keptCapacity(); got > 2<<20+size {
		t.Fatalf("decoder keeps %d bytes of idle buffers, cap %d", got, 2<<20)
	}
	if d.kept != d.keptCapacity() {
		t.Fatalf("kept accounting %d, buffers %d", d.kept, d.keptCapacity())
	}
	d.Release()
}

// Within the cap, a chunk stream keeps its buffer from message to message.
func TestKeptBuffersReused(t *testing.T) {
	d := NewDecoder(DecoderConfig{Pool: NewBufferPool()})
	wire := bgCat(append(bgMsg(6, 64<<10), bgMsg(4, 300)...)...)
	var first *byte
	for round := range 3 {
		p := wire
		for len(p) > 0 {
			n, m, err := d.Feed(p)
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
			if m != nil && m.ChunkStreamID == 6 {
				if round == 0 {
					first = &m.Payload[0]
				} else if &m.Payload[0] != first {
					t.Fatalf("round %d: video buffer was not kept", round)
				}
			}
		}
	}
}
