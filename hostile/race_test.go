//go:build race

package hostile

// raceEnabled: measurements are meaningless when the clients run under -race.
const raceEnabled = true
