package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain prints the machine stamp before any benchmark output, in the
// "key: value" form that benchstat keeps as configuration.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		fmt.Print(Current())
	}
	os.Exit(m.Run())
}

func TestStamp(t *testing.T) {
	m := Current()
	if m.Go == "" || m.GOMAXPROCS < 1 || m.OSArch == "" {
		t.Fatalf("incomplete stamp: %+v", m)
	}
	t.Log("\n" + m.String())
}
