package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat; Linux
// has used 100 on every architecture for user-visible times.
const clockTicks = 100

// maxProcScan bounds the number of /proc entries read to find a process's
// descendants.
const maxProcScan = 100_000

// errProcFormat reports a /proc file that does not parse.
var errProcFormat = errors.New("rtmpbench: unexpected /proc format")

// procStat holds the fields of /proc/PID/stat rtmpbench uses.
type procStat struct {
	PPID int
	// CPU is utime+stime.
	CPU time.Duration
}

// parseStat parses the contents of /proc/PID/stat (or /proc/PID/task/TID/stat).
func parseStat(b []byte) (procStat, error) {
	// The command name (field 2) is in parentheses and may contain spaces
	// and parentheses: the fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return procStat{}, errProcFormat
	}
	f := bytes.Fields(b[i+2:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, errProcFormat
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ut, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("%w: %v", errProcFormat, err)
	}
	return procStat{PPID: ppid, CPU: time.Duration(ut+st) * time.Second / clockTicks}, nil
}

// readStat reads and parses a /proc stat file.
func readStat(path string) (procStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// memStatus holds the memory fields of /proc/PID/status, in bytes.
type memStatus struct {
	RSS, HWM int64
}

// parseStatus parses VmRSS and VmHWM from the contents of /proc/PID/status.
// Kernel threads have neither and give zeros.
func parseStatus(b []byte) (memStatus, error) {
	var m memStatus
	for line := range bytes.Lines(b) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.HWM
		default:
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			return m, errProcFormat
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%w: %v", errProcFormat, err)
		}
		*dst = kb << 10
	}
	return m, nil
}

// procTree returns pid and all its descendants (processes whose parent chain
// leads to pid), found by scanning /proc. pid comes first; it fails when pid
// does not exist.
func procTree(pid int) ([]int, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, err
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(maxProcScan)
	d.Close()
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, name := range names {
		p, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		st, err := readStat("/proc/" + name + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		children[st.PPID] = append(children[st.PPID], p)
	}
	tree := []int{pid}
	for i := 0; i < len(tree) && i < maxProcScan; i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree, nil
}

// treeSample is a process tree's CPU time and memory at one moment.
type treeSample struct {
	Procs int
	CPU   time.Duration
	RSS   int64 // sum of VmRSS, bytes
	HWM   int64 // sum of VmHWM, bytes
}

// sumTree sums CPU time (utime+stime), VmRSS and VmHWM over the processes of
// tree (from procTree), skipping those that exit while it reads; gone
// reports that one of them has exited.
func sumTree(tree []int) (s treeSample, gone bool, err error) {
	for _, p := range tree {
		st, err := readStat(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			gone = true
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			gone = true
			continue
		}
		m, err := parseStatus(b)
		if err != nil {
			return s, gone, err
		}
		s.Procs++
		s.CPU += st.CPU
		s.RSS += m.RSS
		s.HWM += m.HWM
	}
	return s, gone, nil
}

// selfCPU returns this process's user+system CPU time (getrusage RUSAGE_SELF).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU returns the CPU time of one thread of this process.
func threadCPU(tid int) (time.Duration, error) {
	st, err := readStat(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	return st.CPU, err
}

// machineCPU is the machine's cumulative CPU time from /proc/stat, all cores.
type machineCPU struct {
	// Busy is user, nice, system, irq and softirq time; Steal is time the
	// hypervisor ran something else while this machine wanted to run.
	Busy, Steal time.Duration
	// Cores is the number of per-CPU lines (online CPUs, whatever this
	// process's affinity).
	Cores int
}

// parseMachineStat parses the "cpu" line of /proc/stat.
func parseMachineStat(b []byte) (machineCPU, error) {
	var m machineCPU
	found := false
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) > 0 && len(f[0]) > 3 && bytes.HasPrefix(f[0], []byte("cpu")) {
			m.Cores++
		}
		if len(f) < 9 || string(f[0]) != "cpu" {
			continue
		}
		var v [8]int64
		for i := range v {
			n, err := strconv.ParseInt(string(f[i+1]), 10, 64)
			if err != nil {
				return machineCPU{}, fmt.Errorf("%w: %v", errProcFormat, err)
			}
			v[i] = n
		}
		// user nice system idle iowait irq softirq steal
		busy := v[0] + v[1] + v[2] + v[5] + v[6]
		m.Busy = time.Duration(busy) * time.Second / clockTicks
		m.Steal = time.Duration(v[7]) * time.Second / clockTicks
		found = true
	}
	if !found {
		return machineCPU{}, errProcFormat
	}
	return m, nil
}

// readMachineCPU reads /proc/stat.
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineStat(b)
}
