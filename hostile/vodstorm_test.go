package hostile

import (
	"context"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
)

// vodStormStream names the recording the VOD storm plays.
const vodStormStream = "vod"

// vodPlayOnce plays the recording with a vodStormBuffer buffer length from
// the attacker address, reads for vodStormRead, and returns the bytes and
// media messages received.
func vodPlayOnce(ctx context.Context, d *rtmpd) (bytes uint64, media int, err error) {
	cfg := attackerConfig(attackerIP(0), 0)
	cfg.BufferLength = vodStormBuffer
	// rtmpd's record app plays its recordings (live's are not public).
	c, err := client.Dial(ctx, "rtmp://"+d.rtmpAddr+"/record/"+vodStormStream, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if err := c.Play(ctx, vodStormStream); err != nil {
		return c.BytesReceived(), 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(vodStormRead))
	for {
		m, err := c.ReadMessage()
		if err != nil {
			break
		}
		if m.TypeID == chunkcodec.TypeVideo || m.TypeID == chunkcodec.TypeAudio {
			media++
		}
	}
	return c.BytesReceived(), media, nil
}

// TestVODReconnectStorm: an attacker plays a 5-minute recording with a
// 10-hour buffer length, reads for a second, disconnects and starts again for
// 3 s. The bytes the server sends it stay bounded, and honest viewers keep up.
func TestVODReconnectStorm(t *testing.T) {
	skipUnlessMeasurable(t, false)
	dir := t.TempDir()
	if err := writeRecording(dir, "record/"+vodStormStream+"-20260101-000000.flv", "record", vodStormStream, vodStormRecording, honestFrameBytes, nil); err != nil {
		t.Fatal(err)
	}
	s := newScenario(t, "11 VOD reconnect storm", rtmpdOptions{recordDir: dir})
	s.beginAttack()
	ctx, cancel := context.WithTimeout(context.Background(), vodStormDuration)
	defer cancel()
	var total uint64
	plays, media, fails := 0, 0, 0
	for ctx.Err() == nil && plays < 100 {
		pctx, pcancel := context.WithTimeout(context.Background(), honestDialBound)
		n, m, err := vodPlayOnce(pctx, s.d)
		pcancel()
		total += n
		media += m
		plays++
		if err != nil {
			fails++
			t.Logf("VOD play %d: %v", plays, err)
		}
	}
	s.endAttack()
	s.rep.note("VOD plays %d (failed %d), media messages %d, bytes sent to the attacker %d MB", plays, fails, media, total>>20)
	s.settle(nil)

	if media == 0 {
		t.Fatalf("the attacker's VOD plays received no media: the recording was not found (harness)")
	}
	s.checkKeepUp()
	if total > vodStormBytes {
		s.fail("the server sent %d MB to one client reconnecting to a VOD play %d times in %v (budget %d MB)", total>>20, plays, vodStormDuration, vodStormBytes>>20)
	}
	s.checkSettled()
}
