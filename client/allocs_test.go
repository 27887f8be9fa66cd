//go:build !race

package client_test

import (
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
)

// TestReadMessageAllocs checks that a player's steady-state read path (chunk
// reassembly, acknowledgements, ping responses) does not allocate.
func TestReadMessageAllocs(t *testing.T) {
	c := streamingPlayer(t, 6000)
	read := func() {
		m, err := c.ReadMessage()
		if err != nil || m.TypeID != chunkcodec.TypeVideo {
			t.Fatalf("ReadMessage: %v", err)
		}
	}
	for range 200 { // grow buffers, pass a few acks
		read()
	}
	if n := testing.AllocsPerRun(2000, read); n != 0 {
		t.Fatalf("ReadMessage allocates %.2f times per message", n)
	}
}
