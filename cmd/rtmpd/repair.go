package main

import (
	"fmt"
	"os"

	"github.com/quaverlive/quaver/recorder"
)

// repair finishes recordings left unfinished by a crash: rtmpd repair FILE...
func repair(files []string) int {
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: rtmpd repair FILE.flv...")
		return 2
	}
	status := 0
	for _, f := range files {
		in, err := recorder.Repair(f, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rtmpd repair: %s: %v\n", f, err)
			status = 1
			continue
		}
		fmt.Printf("%s: repaired, duration %.3fs, %d bytes\n", f, in.Duration, in.Size)
	}
	return status
}
