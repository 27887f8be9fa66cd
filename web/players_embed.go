//go:build embedplayers

package web

import _ "embed"

// The player libraries as `make web` installed them when the binary was
// built (go build -tags embedplayers; the build fails when they are missing).
var (
	//go:embed node_modules/mpegts.js/dist/mpegts.js
	mpegtsJS []byte
	//go:embed node_modules/flv.js/dist/flv.min.js
	flvJS []byte
)

// embedded maps Libraries' URL paths to the embedded copies.
var embedded = map[string][]byte{
	"/lib/mpegts.js": mpegtsJS,
	"/lib/flv.js":    flvJS,
}

// PlayersEmbedded reports whether the binary carries the player libraries.
const PlayersEmbedded = true
