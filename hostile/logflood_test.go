package hostile

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// logFloodTail is how long lines are still counted after the attacks (the
// server logs closes as it processes them).
const logFloodTail = time.Second

// TestLogFlood: a connection flood and a name churn against one rtmpd; the
// child's stderr stays under logFloodLines lines for both together.
func TestLogFlood(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "12 log flood", rtmpdOptions{args: []string{"-max-connections", fmt.Sprint(floodMaxConnections), "-max-connections-per-ip", floodPerIP}})
	s.beginAttack()
	started := make(chan struct{})
	fl := connFlood(s.d.rtmpAddr, started)
	fl.close()
	floodLines := s.d.log.Lines() - s.log0
	r, err := nameChurn(context.Background(), s.d, attackerIP(floodIPs))
	if err != nil {
		t.Fatalf("name churn: %v", err)
	}
	_ = r.nc.Close()
	time.Sleep(logFloodTail)
	lines := s.d.log.Lines() - s.log0
	s.endAttack()
	s.rep.note("log lines: connection flood (%d attempts) %d, name churn (%d names) %d", fl.attempts, floodLines, r.iterations, lines-floodLines)
	s.settle(nil)
	s.rep.logs = lines

	if lines > logFloodLines {
		s.fail("the child wrote %d log lines during a connection flood and a name churn (budget %d)", lines, logFloodLines)
	}
	s.checkKeepUp()
	s.checkSettled()
}
