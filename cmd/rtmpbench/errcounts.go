package main

import (
	"regexp"
	"sync"
)

// errorCounts counts errors by message. Safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int
}

// maxErrorKinds bounds the distinct messages kept; later ones count as "other".
const maxErrorKinds = 50

// portRE matches the ephemeral ports in network error messages, so the same
// failure on different connections counts once.
var portRE = regexp.MustCompile(`:\d+->`)

func (e *errorCounts) add(err error) {
	if err == nil {
		return
	}
	msg := portRE.ReplaceAllString(err.Error(), ":*->")
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int{}
	}
	if _, ok := e.m[msg]; !ok && len(e.m) >= maxErrorKinds {
		msg = "other"
	}
	e.m[msg]++
}

func (e *errorCounts) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}
