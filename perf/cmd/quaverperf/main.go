// Command quaverperf reads pprof profiles for Quaver's tuning loop.
//
//	quaverperf top [-n 25] [-sample cpu|alloc_space|alloc_objects|...] PROFILE
//	quaverperf diff [-n 25] [-sample ...] OLD NEW
//	quaverperf check-allocs [-within REGEXP] PROFILE...   # exit 1 if a hot-path function allocates
//
// Profiles come from `go test -bench ... -cpuprofile/-memprofile`, from rtmpd's
// -pprof listener (curl http://127.0.0.1:6060/debug/pprof/profile?seconds=20), or
// from `go tool pprof` saves. See perf/README.md for the loop.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/quaverlive/quaver/perf"
)

func main() { os.Exit(run(os.Args[1:])) }

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: quaverperf top|diff|check-allocs [flags] PROFILE...")
	return 2
}

func run(args []string) int {
	if len(args) == 0 {
		return usage()
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	n := fs.Int("n", 25, "rows to print")
	sample := fs.String("sample", "", "sample type (default: the profile's default, e.g. cpu or alloc_space)")
	extra := fs.String("hot", "", "extra comma-separated hot-path function regexps for check-allocs")
	within := fs.String("within", "", "check-allocs: only count samples whose stack has a frame matching this regexp (the benchmark's steady-state loop)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	files := fs.Args()
	switch args[0] {
	case "top":
		if len(files) != 1 {
			return usage()
		}
		p, err := perf.Load(files[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		rows, total, err := perf.Top(p, *sample, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		unit := p.SampleType[len(p.SampleType)-1].Unit
		perf.PrintTop(os.Stdout, rows, total, unit)
	case "diff":
		if len(files) != 2 {
			return usage()
		}
		a, err := perf.Load(files[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, err := perf.Load(files[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		rows, err := perf.Diff(a, b, *sample, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%14s %14s %14s  %s\n", "old", "new", "delta", "function")
		for _, r := range rows {
			fmt.Printf("%14d %14d %+14d  %s\n", r.Old, r.New, r.New-r.Old, r.Func)
		}
	case "check-allocs":
		if len(files) == 0 {
			return usage()
		}
		hot := perf.HotPath
		if *extra != "" {
			hot = append(hot, strings.Split(*extra, ",")...)
		}
		bad := 0
		for _, f := range files {
			p, err := perf.Load(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			found, err := perf.HotAllocs(p, hot, *within)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			for _, x := range found {
				bad++
				fmt.Printf("%s: hot-path allocation in %s: %d objects, %d bytes\n", f, x.Func, x.Objects, x.Bytes)
				for i, fr := range x.Stack {
					if i == 8 {
						break
					}
					fmt.Printf("    %s\n", fr)
				}
			}
		}
		if bad > 0 {
			fmt.Printf("check-allocs: FAIL (%d hot-path allocation sites)\n", bad)
			return 1
		}
		fmt.Println("check-allocs: ok, no allocation attributed to a hot-path function")
	default:
		return usage()
	}
	return 0
}
