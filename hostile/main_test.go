package hostile

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	flagsOnce sync.Once
	rtmpdHas  map[string]bool // flags listed by rtmpd -h
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

// hasFlag fails the test unless rtmpd lists -name in its usage (a budget flag
// the suite relies on), and then reports true.
func hasFlag(t *testing.T, name string) bool {
	bin := buildRTMPD(t)
	flagsOnce.Do(func() {
		rtmpdHas = map[string]bool{}
		var out bytes.Buffer
		cmd := exec.Command(bin, "-h")
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && strings.HasPrefix(f[0], "-") {
				rtmpdHas[strings.TrimPrefix(f[0], "-")] = true
			}
		}
	})
	if !rtmpdHas[name] {
		t.Fatalf("rtmpd -h lists no -%s: the budget this test sets is gone", name)
	}
	return true
}
