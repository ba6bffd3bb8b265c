package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, fixed at 100 on
// Linux whatever the kernel's own tick rate).
const userHZ = 100

// pfKthread is the PF_KTHREAD bit of the flags field in /proc/PID/stat.
const pfKthread = 0x00200000

// procStat is what the bench reads from one /proc/PID/stat line.
type procStat struct {
	pid, ppid  int
	kthread    bool
	ticks      uint64 // utime+stime of the whole process (all its threads)
	childTicks uint64 // cutime+cstime: children it has waited for
}

// parseProcStat parses a /proc/PID/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("parse /proc stat line %.40q: no (comm)", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat line %.40q: pid: %w", line, err)
	}
	// After the comm: state(0) ppid(1) pgrp session tty_nr tpgid flags(6)
	// minflt cminflt majflt cmajflt utime(11) stime(12) cutime(13) cstime(14).
	f := strings.Fields(line[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc stat of pid %d: %d fields after comm, want at least 15", pid, len(f))
	}
	var n [5]uint64
	for i, idx := range []int{6, 11, 12, 13, 14} {
		if n[i], err = strconv.ParseUint(f[idx], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("parse /proc stat of pid %d: field %d: %w", pid, idx, err)
		}
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat of pid %d: ppid: %w", pid, err)
	}
	return procStat{pid: pid, ppid: ppid, kthread: n[0]&pfKthread != 0,
		ticks: n[1] + n[2], childTicks: n[3] + n[4]}, nil
}

// readProcStat reads /proc/PID/stat.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read CPU time of pid %d: %w", pid, err)
	}
	return parseProcStat(string(b))
}

// scanProcs reads the stat line of every process. Processes that exit while
// it runs are left out.
func scanProcs() ([]procStat, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	procs := make([]procStat, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // it exited during the scan (ENOENT, ESRCH)
		}
		procs = append(procs, st)
	}
	return procs, nil
}

// parseBusyTicks returns the busy time in the "cpu " line of /proc/stat:
// user, nice, system, irq and softirq, summed over all CPUs. Idle, iowait and
// steal are not busy; guest time is already part of user.
func parseBusyTicks(stat string) (uint64, error) {
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		var busy uint64
		for _, idx := range []int{1, 2, 3, 6, 7} {
			v, err := strconv.ParseUint(f[idx], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/stat cpu line: field %d: %w", idx, err)
			}
			busy += v
		}
		return busy, nil
	}
	return 0, errors.New("parse /proc/stat: no cpu line")
}

// readBusyTicks reads the machine's busy CPU time from /proc/stat.
func readBusyTicks() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	return parseBusyTicks(string(b))
}

// readPeakRSS returns the peak resident set size of pid, in bytes, from the
// VmHWM line of /proc/PID/status.
func readPeakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS of pid %d: %w", pid, err)
	}
	defer f.Close()
	return parsePeakRSS(f, pid)
}

func parsePeakRSS(r io.Reader, pid int) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("peak RSS of pid %d: unexpected VmHWM line %q", pid, sc.Text())
		}
		kib, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS of pid %d: %w", pid, err)
		}
		return kib * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peak RSS of pid %d: %w", pid, err)
	}
	return 0, fmt.Errorf("peak RSS of pid %d: no VmHWM line", pid)
}

// cpuTicks returns the summed utime+stime of pids.
func cpuTicks(pids []int) (uint64, error) {
	var sum uint64
	for _, pid := range pids {
		st, err := readProcStat(pid)
		if err != nil {
			return 0, err
		}
		sum += st.ticks
	}
	return sum, nil
}
