package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/lab"
)

func TestAllocFiguresPerPacketAndPerSecond(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c0 := [2]nodeCounters{{at: t0, allocs: 1000, packets: 10}, {at: t0, allocs: 5000, packets: 10}}
	c1 := [2]nodeCounters{{at: t0.Add(2 * time.Second), allocs: 1400, packets: 2010}, {at: t0.Add(4 * time.Second), allocs: 9000, packets: 2010}}
	f := allocFigures(c0, c1, 4<<20)
	want := figures{
		mAllocPktA: 0.2, mAllocSecA: 200, mPktSecA: 1000,
		mAllocPktB: 2, mAllocSecB: 1000, mPktSecB: 500,
		mAllocMiB: 4400.0 / 4,
	}
	for m, v := range want {
		if !near(f[m], v) {
			t.Errorf("%s = %v, want %v", m, f[m], v)
		}
	}
}

func TestAllocFiguresWithoutPacketsLeaveThePerPacketFigureOut(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := [2]nodeCounters{{at: t0, allocs: 1}, {at: t0, allocs: 1}}
	f := allocFigures(c, c, 0)
	if _, ok := f[mAllocPktA]; ok {
		t.Errorf("allocations per packet with no packets: %v", f)
	}
}

func TestPerGBDividesByBytesReceived(t *testing.T) {
	before := cpuReading{vpn: 100, box: cpuSample{own: 1000, kernel: 10}}
	after := cpuReading{vpn: 500, box: cpuSample{own: 1500, kernel: 110}}
	f := after.perGB(before, 2e9, true)
	if !near(f[mCPUVPN], 2) || !near(f[mCPUBox], 3) {
		t.Errorf("perGB() = %v, want VPN 2 and box 3 CPU-s/GB", f)
	}
	if f := after.perGB(before, 2e9, false); len(f) != 1 {
		t.Errorf("perGB() without VPN processes = %v, want the box figure only", f)
	}
}

func TestTLSVPNConfigsPassTheConfigParser(t *testing.T) {
	dir := t.TempDir()
	for _, o := range lab.Offices {
		path := filepath.Join(dir, o.Name+".toml")
		if err := os.WriteFile(path, []byte(tlsvpnConfig(o, filepath.Join(dir, "pki"))), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := config.Parse(path)
		if err != nil {
			t.Fatalf("config of %s: %v", o.Name, err)
		}
		if c.Listens() != (o.Listen != "") || c.Dials() != (o.Endpoint != "") {
			t.Errorf("%s: listens %v, dials %v", o.Name, c.Listens(), c.Dials())
		}
	}
}

func TestEverySystemNameMakesASystem(t *testing.T) {
	for _, name := range systemNames {
		sys, err := newSystem(name, &env{})
		if err != nil || sys.name() != name {
			t.Errorf("newSystem(%q) = %v, %v", name, sys, err)
		}
	}
	if _, err := newSystem("ipsec", &env{}); err == nil {
		t.Error("newSystem(ipsec): no error")
	}
}
