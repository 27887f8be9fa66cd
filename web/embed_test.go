package web

import "testing"

// TestEmbedded checks that Embedded has a copy of every library exactly when
// the binary was built with the tag embedplayers (go test -tags embedplayers
// ./web after make web).
func TestEmbedded(t *testing.T) {
	for urlPath := range Libraries {
		b := Embedded(urlPath)
		if PlayersEmbedded && len(b) == 0 {
			t.Errorf("Embedded(%q) is empty with embedplayers", urlPath)
		}
		if !PlayersEmbedded && b != nil {
			t.Errorf("Embedded(%q) = %d bytes without embedplayers", urlPath, len(b))
		}
	}
	if Embedded("/lib/none.js") != nil {
		t.Error("Embedded of an unknown path is not nil")
	}
}
