package main

import (
	"maps"
	"slices"
)

// metric names one figure of one run.
type metric string

// The figures of the main (gateway to gateway) runs.
const (
	mMTU        metric = "mtu"
	mTCP1       metric = "tcp1"
	mTCP4       metric = "tcp4"
	mTCP1R      metric = "tcp1r"
	mTCP4R      metric = "tcp4r"
	mTCP6       metric = "tcp6"
	mRetr1      metric = "retr1"
	mUDPRecv    metric = "udp_recv"
	mUDPLoss    metric = "udp_loss"
	mRTTIdle    metric = "rtt_idle"
	mRTTLoaded  metric = "rtt_loaded"
	mRTTLoadMax metric = "rtt_loaded_max"
	mTBFRTT     metric = "tbf_rtt"
	mTBFPct     metric = "tbf_pct"
	mCPUVPN     metric = "cpu_vpn"
	mCPUBox     metric = "cpu_box"
	mRSSA       metric = "rss_a"
	mRSSB       metric = "rss_b"
	mUp         metric = "up"
)

// The figures of the forwarded LAN-to-LAN run.
const (
	mLANTCP1  metric = "lan_tcp1"
	mLANTCP1R metric = "lan_tcp1r"
	mLANRTT   metric = "lan_rtt"
)

// tlsvpn's allocation figures during the 1-stream run, per node.
const (
	mAllocPktA metric = "alloc_pkt_a"
	mAllocSecA metric = "alloc_sec_a"
	mPktSecA   metric = "pkt_sec_a"
	mAllocPktB metric = "alloc_pkt_b"
	mAllocSecB metric = "alloc_sec_b"
	mPktSecB   metric = "pkt_sec_b"
	mAllocMiB  metric = "alloc_per_mib" // allocations per MiB delivered, both nodes
)

// better says which way a figure improves, for the unit column.
type better int

const (
	neither better = iota
	higher
	lower
)

// row is one line of a results table.
type row struct {
	m       metric
	label   string
	unit    string
	better  better
	noRatio bool // a ratio would mean nothing (MTU, counts that may be 0)
}

// mainRows are the rows of the main table, in order.
var mainRows = []row{
	{m: mMTU, label: "tunnel MTU", unit: "bytes", noRatio: true},
	{m: mTCP1, label: "TCP, 1 stream", unit: "Gbit/s", better: higher},
	{m: mTCP4, label: "TCP, 4 streams", unit: "Gbit/s", better: higher},
	{m: mTCP1R, label: "TCP, 1 stream, reverse (-R)", unit: "Gbit/s", better: higher},
	{m: mTCP4R, label: "TCP, 4 streams, reverse (-R)", unit: "Gbit/s", better: higher},
	{m: mTCP6, label: "TCP, 1 stream, IPv6 (first run)", unit: "Gbit/s", better: higher},
	{m: mRetr1, label: "TCP retransmits, 1 stream", unit: "per step", better: lower, noRatio: true},
	{m: mUDPRecv, label: "UDP 1400 B offered at 1 Gbit/s: received", unit: "Mbit/s", better: higher},
	{m: mUDPLoss, label: "UDP 1400 B offered at 1 Gbit/s: loss", unit: "%", better: lower, noRatio: true},
	{m: mRTTIdle, label: "ping RTT, idle (median)", unit: "ms", better: lower},
	{m: mRTTLoaded, label: "ping RTT under 1 stream (median)", unit: "ms", better: lower},
	{m: mRTTLoadMax, label: "ping RTT under 1 stream (max)", unit: "ms", better: lower},
	{m: mTBFRTT, label: "200 Mbit/s TBF: ping RTT under 1 stream (median)", unit: "ms", better: lower},
	{m: mTBFPct, label: "200 Mbit/s TBF: throughput", unit: "% of 200 Mbit/s", better: higher},
	{m: mCPUVPN, label: "VPN CPU (both nodes' processes), 1 stream", unit: "CPU-s/GB", better: lower},
	{m: mCPUBox, label: "box CPU (bench, iperf3, VPN, kernel), 1 stream", unit: "CPU-s/GB", better: lower},
	{m: mRSSA, label: "peak RSS (VmHWM), gwA (listens)", unit: "MiB", better: lower},
	{m: mRSSB, label: "peak RSS (VmHWM), gwB (dials)", unit: "MiB", better: lower},
	{m: mUp, label: "tunnel up (launch dialer to first ping reply)", unit: "s", better: lower},
}

// lanRows are the rows of the forwarded-path table.
var lanRows = []row{
	{m: mLANTCP1, label: "TCP, 1 stream, host A to host B", unit: "Gbit/s", better: higher},
	{m: mLANTCP1R, label: "TCP, 1 stream, reverse (-R)", unit: "Gbit/s", better: higher},
	{m: mLANRTT, label: "ping RTT host A to host B, idle (median)", unit: "ms", better: lower},
}

// allocRows are the rows of tlsvpn's allocation table.
var allocRows = []row{
	{m: mAllocPktA, label: "gwA (sends): allocations per tunnel packet", unit: "allocs"},
	{m: mAllocSecA, label: "gwA (sends): allocations per second", unit: "allocs/s"},
	{m: mPktSecA, label: "gwA (sends): tunnel packets per second", unit: "packets/s"},
	{m: mAllocPktB, label: "gwB (receives): allocations per tunnel packet", unit: "allocs"},
	{m: mAllocSecB, label: "gwB (receives): allocations per second", unit: "allocs/s"},
	{m: mPktSecB, label: "gwB (receives): tunnel packets per second", unit: "packets/s"},
	{m: mAllocMiB, label: "both nodes: allocations per MiB received by iperf3", unit: "allocs/MiB"},
}

// figures are one run's values by metric. A metric that was not measured
// (a failed step, or not applicable) is absent.
type figures map[metric]float64

// add copies o's values into f.
func (f figures) add(o figures) { maps.Copy(f, o) }

// samples collects the runs' figures of one system.
type samples map[metric][]float64

// add appends every value of f.
func (s samples) add(f figures) {
	for _, m := range slices.Sorted(maps.Keys(f)) {
		s[m] = append(s[m], f[m])
	}
}
