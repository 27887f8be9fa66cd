package perf

import (
	"io"
	"runtime/pprof"
)

func writeAllocs(w io.Writer) error { return pprof.Lookup("allocs").WriteTo(w, 0) }
