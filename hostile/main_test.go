package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// rtmpd is built once per test binary, on first use, into a temporary
// directory that TestMain removes.
var (
	buildOnce sync.Once
	buildDir  string
	rtmpdBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	printSummary()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// skipUnlessMeasurable skips when the measurements would be meaningless.
func skipUnlessMeasurable(t *testing.T, long bool) {
	t.Helper()
	if raceEnabled {
		t.Skip("hostile: the clients share the machine with the child; under -race their slowdown would be measured as the server's")
	}
	if long && testing.Short() {
		t.Skip("hostile: waits for a server timeout; skipped with -short")
	}
}

// buildRTMPD builds ./cmd/rtmpd (once) and returns the binary's path.
func buildRTMPD(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "quaver-hostile")
		if buildErr != nil {
			return
		}
		rtmpdBin = filepath.Join(buildDir, "rtmpd")
		out, err := exec.Command("go", "build", "-o", rtmpdBin, "github.com/quaverlive/quaver/cmd/rtmpd").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build rtmpd: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return rtmpdBin
}
