// Package browsertest plays live streams from rtmpd's player page
// (web/index.html) in a real headless Chromium, driven over the Chrome
// DevTools Protocol with chromedp.
//
// The tests start a server in-process on 127.0.0.1, publish a generated
// H.264 + AAC stream with ffmpeg, and check that mpegts.js and flv.js play it
// over WebSocket-FLV and HTTP-FLV (picture size and a clock that advances),
// that a name the page must percent-encode plays, that a recording is listed
// apart from the live streams and plays as one (its whole timeline, from its
// start, seekable) rather than as a live stream, that a stream that is not
// live is reported on the page, and that the page still works and says what
// to do when the player libraries are not installed. They need /usr/bin/chromium and ffmpeg, and the libraries from
// `make web`; without them they skip, except when CI=true, where a missing
// browser or library fails.
//
// Set BROWSERTEST_SCREENSHOTS to a directory to keep the screenshots the tests
// take (otherwise they go to a temporary directory that is removed).
package browsertest
