// Package bench holds Quaver's headline benchmarks and stamps their results
// with the machine they ran on, so numbers from different machines are never
// compared by mistake. Run them with:
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// Every package also has its own benchmarks; `make bench` runs them all.
package bench

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPU        string
	Vendor     string
	Hypervisor string // empty on bare metal
	Physical   int
	Logical    int
	GOMAXPROCS int
	Go         string
	OSArch     string
	Features   string // selected SIMD features that matter for copying and hashing
}

// Current returns the machine the process runs on.
func Current() Machine {
	c := cpuid.CPU
	hv := ""
	if c.VM() {
		hv = c.HypervisorVendorString
		if hv == "" {
			hv = "unknown hypervisor"
		}
	}
	var feats []string
	for _, f := range []cpuid.FeatureID{cpuid.SSE42, cpuid.AVX2, cpuid.AVX512F, cpuid.ERMS, cpuid.FSRM, cpuid.SHA, cpuid.ASIMD} {
		if c.Supports(f) {
			feats = append(feats, f.String())
		}
	}
	return Machine{
		CPU:        c.BrandName,
		Vendor:     c.VendorString,
		Hypervisor: hv,
		Physical:   c.PhysicalCores,
		Logical:    c.LogicalCores,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go:         runtime.Version(),
		OSArch:     runtime.GOOS + "/" + runtime.GOARCH,
		Features:   strings.Join(feats, ","),
	}
}

// String formats the machine as benchmark configuration lines ("key: value"),
// which benchstat carries into its report.
func (m Machine) String() string {
	vm := "no"
	if m.Hypervisor != "" {
		vm = m.Hypervisor
	}
	return fmt.Sprintf("cpu-brand: %s\ncpu-cores: %d physical, %d logical\nvm: %s\ngomaxprocs: %d\ngo: %s\ncpu-features: %s\n",
		m.CPU, m.Physical, m.Logical, vm, m.GOMAXPROCS, m.Go, m.Features)
}
