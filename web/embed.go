// Package web holds the browser player page served by rtmpd's HTTP listener.
// The page is embedded in the binary. The FLV player libraries it uses
// (mpegts.js, flv.js) come from npm into web/node_modules (`make web`) and are
// read from there when the server starts, so the page can say what to run
// when they are missing. A binary built with the tag embedplayers (`make
// build`) also carries copies of them (Embedded), which the server serves
// when its web directory has none; no third-party file is committed.
package web

import _ "embed"

// Index is the player page (index.html).
//
//go:embed index.html
var Index []byte

// Libraries maps the URL path the page loads each player library from to the
// file inside node_modules that provides it.
var Libraries = map[string]string{
	"/lib/mpegts.js": "mpegts.js/dist/mpegts.js",
	"/lib/flv.js":    "flv.js/dist/flv.min.js",
}

// Embedded returns the copy of the player library served at urlPath
// (a key of Libraries) built into the binary, or nil when the binary was
// built without the tag embedplayers. The bytes are shared: read-only. Safe
// from any goroutine.
func Embedded(urlPath string) []byte { return embedded[urlPath] }
