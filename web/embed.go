// Package web holds the browser player page served by rtmpd's HTTP listener.
// The page is embedded in the binary; the FLV player libraries it uses
// (mpegts.js, flv.js) come from npm into web/node_modules (`make web`) and are
// served from there, so the page can say what to run when they are missing.
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
