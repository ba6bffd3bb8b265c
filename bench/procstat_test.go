package main

import (
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr bool
	}{
		{
			name: "a plain process sums utime and stime, and cutime and cstime",
			line: "4242 (iperf3) S 100 4242 4242 0 -1 4194560 120 0 0 0 250 75 3 4 20 0 1 0 999 0 0",
			want: procStat{pid: 4242, ppid: 100, ticks: 325, childTicks: 7},
		},
		{
			name: "a command name with spaces and parentheses is skipped whole",
			line: "7 (a) b (c) R 1 7 7 0 -1 4194304 0 0 0 0 10 20 0 0 20 0 1 0 5 0 0",
			want: procStat{pid: 7, ppid: 1, ticks: 30},
		},
		{
			name: "the PF_KTHREAD flag marks a kernel thread",
			line: "14 (ksoftirqd/0) S 2 0 0 0 -1 69238848 0 0 0 0 5 300 0 0 20 0 1 0 9 0 0",
			want: procStat{pid: 14, ppid: 2, kthread: true, ticks: 305},
		},
		{name: "a line without a command name is an error", line: "12 S 1 2 3", wantErr: true},
		{name: "a truncated line is an error", line: "12 (x) S 1 2 3", wantErr: true},
		{name: "a bad number is an error", line: "12 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseProcStat() error = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("parseProcStat() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseBusyTicksCountsUserNiceSystemIrqSoftirq(t *testing.T) {
	stat := "cpu  100 2 30 5000 40 5 6 7 0 0\ncpu0 50 1 15 2500 20 2 3 3 0 0\nintr 1\n"
	got, err := parseBusyTicks(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(100 + 2 + 30 + 5 + 6); got != want {
		t.Errorf("parseBusyTicks() = %d, want %d (idle, iowait and steal are not busy)", got, want)
	}
	if _, err := parseBusyTicks("intr 1\n"); err == nil {
		t.Error("parseBusyTicks() without a cpu line: no error")
	}
}

func TestPeakRSSIsReadFromTheVmHWMLine(t *testing.T) {
	status := "Name:\ttlsvpn\nVmPeak:\t  900000 kB\nVmHWM:\t   12456 kB\nVmRSS:\t   12000 kB\n"
	got, err := parsePeakRSS(strings.NewReader(status), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(12456 * 1024); got != want {
		t.Errorf("parsePeakRSS() = %d, want %d", got, want)
	}
	if _, err := parsePeakRSS(strings.NewReader("Name:\tx\n"), 1); err == nil {
		t.Error("parsePeakRSS() without VmHWM: no error")
	}
}

func TestReadProcStatOfThisProcess(t *testing.T) {
	procs, err := scanProcs()
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) == 0 {
		t.Fatal("scanProcs() found no process")
	}
	if _, err := cpuTicks([]int{procs[0].pid}); err != nil {
		t.Errorf("cpuTicks(%d): %v", procs[0].pid, err)
	}
}
