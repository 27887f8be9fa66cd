//go:build !race

package chunkcodec

import "testing"

// TestHandshakeAllocs pins the handshake's allocation budget: a whole
// server or client handshake, simple or digest, allocates nothing once the
// state machine exists and out has room for the reply.
func TestHandshakeAllocs(t *testing.T) {
	cases := serverCases()
	out := make([]byte, 0, HandshakeWireSize)
	for _, rnd := range []struct {
		name string
		det  bool
	}{{"crypto/rand", false}, {"deterministic", true}} {
		for _, tc := range []serverCase{cases[0], cases[1], cases[2]} {
			h := &ServerHandshake{Epoch: testServerEpoch}
			if rnd.det {
				h.Rand = newDetRand(1)
			}
			allocs := testing.AllocsPerRun(50, func() {
				h.Reset()
				if _, _, done, err := h.Feed(tc.wire, out[:0]); !done || err != nil {
					t.Fatalf("Feed: %v, %v", done, err)
				}
			})
			if allocs != 0 {
				t.Errorf("server %s, %s: %v allocs per handshake, want 0", tc.name, rnd.name, allocs)
			}
		}

		for _, cfg := range clientConfigs {
			_, _, reply := pairWire(testClient(cfg.digest, cfg.scheme, cfg.version))
			c := testClient(cfg.digest, cfg.scheme, cfg.version)
			if !rnd.det {
				c.Rand = nil
			}
			allocs := testing.AllocsPerRun(50, func() {
				c.Start(out[:0])
				if _, _, done, err := c.Feed(reply, out[:0]); !done || err != nil {
					t.Fatalf("Feed: %v, %v", done, err)
				}
			})
			if allocs != 0 {
				t.Errorf("client %s, %s: %v allocs per handshake, want 0", cfg.name, rnd.name, allocs)
			}
		}
	}
}
