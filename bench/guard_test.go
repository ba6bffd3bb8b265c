package main

import (
	"os"
	"testing"
	"time"
)

func TestOwnTreeHoldsTheRootAndItsDescendantsOnly(t *testing.T) {
	procs := []procStat{
		{pid: 1, ppid: 0}, {pid: 10, ppid: 1}, // root's parent chain
		{pid: 20, ppid: 10}, {pid: 21, ppid: 20}, {pid: 22, ppid: 21}, // the bench and two generations
		{pid: 30, ppid: 1}, {pid: 31, ppid: 30}, // someone else
	}
	own := ownTree(procs, 20)
	for pid, want := range map[int]bool{1: false, 10: false, 20: true, 21: true, 22: true, 30: false, 31: false} {
		if own[pid] != want {
			t.Errorf("ownTree()[%d] = %v, want %v", pid, own[pid], want)
		}
	}
}

func TestOwnTreeEndsOnAParentLoop(t *testing.T) {
	procs := []procStat{{pid: 5, ppid: 6}, {pid: 6, ppid: 5}, {pid: 7, ppid: 1}}
	if own := ownTree(procs, 7); own[5] || own[6] || !own[7] {
		t.Errorf("ownTree() = %v, want only 7", own)
	}
}

func TestForeignIsBusyTimeLessOwnAndKernelThreads(t *testing.T) {
	prev := cpuSample{busy: 1000, own: 100, kernel: 50}
	tests := []struct {
		name    string
		cur     cpuSample
		foreign float64
		mine    float64
	}{
		{name: "others used 0.3 s", cur: cpuSample{busy: 1150, own: 200, kernel: 70}, foreign: 0.30, mine: 1.20},
		{name: "nobody else ran", cur: cpuSample{busy: 1120, own: 200, kernel: 70}, foreign: 0, mine: 1.20},
		{name: "sampling skew never makes it negative", cur: cpuSample{busy: 1100, own: 200, kernel: 70}, foreign: 0, mine: 1.20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cur.foreignSince(prev); !near(got, tt.foreign) {
				t.Errorf("foreignSince() = %v, want %v", got, tt.foreign)
			}
			if got := tt.cur.mineSince(prev); !near(got, tt.mine) {
				t.Errorf("mineSince() = %v, want %v", got, tt.mine)
			}
		})
	}
}

func TestLimitScalesWithTheStepAndHasAFloor(t *testing.T) {
	if got := limit(10 * time.Second); !near(got, 0.5) {
		t.Errorf("limit(10s) = %v, want 0.5 (peers.md: 0.5 CPU-s in a 10-s run)", got)
	}
	if got := limit(time.Second); !near(got, guardMinForeign) {
		t.Errorf("limit(1s) = %v, want the floor %v", got, guardMinForeign)
	}
}

func TestTakeSampleCountsThisProcessAsOwn(t *testing.T) {
	// Burn a little CPU so that this process has ticks of its own.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	// Read this process's ticks first: they only grow, so the sample taken
	// after must count at least as many as its own.
	self, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s, err := takeSample()
	if err != nil {
		t.Fatal(err)
	}
	if s.own < self.ticks {
		t.Errorf("own ticks %d < this process's %d", s.own, self.ticks)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
