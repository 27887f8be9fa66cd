//go:build !embedplayers

package web

// embedded is empty without the tag embedplayers: the libraries come from
// the web directory only.
var embedded map[string][]byte

// PlayersEmbedded reports whether the binary carries the player libraries.
const PlayersEmbedded = false
