package hostile

import (
	"testing"
	"time"
)

// controlDuration is the window of the control run.
const controlDuration = 3 * time.Second

// TestControl runs the harness without an attack: honest viewers must keep
// up and the child must settle. It checks the harness, and gives the
// baseline row of the report.
func TestControl(t *testing.T) {
	skipUnlessMeasurable(t, false)
	s := newScenario(t, "control (no attack)", rtmpdOptions{})
	s.beginAttack()
	time.Sleep(controlDuration)
	s.endAttack()
	s.settle(nil)
	s.checkKeepUp()
	s.checkSettled()
}
