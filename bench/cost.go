package main

// What a run cost: CPU per GB moved, and tlsvpn's heap allocations.

// cpuReading is the CPU time of a system's processes and of the box.
type cpuReading struct {
	vpn uint64 // ticks of the system's processes
	box cpuSample
}

func (b *bench) cpuNow(s *setup) (cpuReading, error) {
	vpn, err := cpuTicks(s.pids())
	if err != nil {
		return cpuReading{}, err
	}
	box, err := takeSample()
	if err != nil {
		return cpuReading{}, err
	}
	return cpuReading{vpn: vpn, box: box}, nil
}

// perGB returns CPU seconds per GB (10^9 bytes) received: the box's (the
// bench's process tree, iperf3 and the daemons included, and kernel
// threads; other work on the machine left out), and the VPN processes' when
// there are any.
func (r cpuReading) perGB(before cpuReading, bytes float64, vpn bool) figures {
	if bytes <= 0 {
		return nil
	}
	gb := bytes / 1e9
	f := figures{mCPUBox: r.box.mineSince(before.box) / gb}
	if vpn {
		f[mCPUVPN] = float64(r.vpn-before.vpn) / userHZ / gb
	}
	return f
}

// allocFigures turns two readings of tlsvpn's counters, taken around the
// 1-stream run, into allocation rates. Node 0 (gwA) sends, node 1 receives.
func allocFigures(c0, c1 [2]nodeCounters, bytes float64) figures {
	f := figures{}
	perPkt := [2]metric{mAllocPktA, mAllocPktB}
	perSec := [2]metric{mAllocSecA, mAllocSecB}
	pktSec := [2]metric{mPktSecA, mPktSecB}
	var allocs float64
	for i := range c0 {
		da := float64(c1[i].allocs - c0[i].allocs)
		dp := float64(c1[i].packets - c0[i].packets)
		dt := c1[i].at.Sub(c0[i].at).Seconds()
		allocs += da
		if dp > 0 {
			f[perPkt[i]] = da / dp
		}
		if dt > 0 {
			f[perSec[i]], f[pktSec[i]] = da/dt, dp/dt
		}
	}
	if bytes > 0 {
		f[mAllocMiB] = allocs / (bytes / (1 << 20))
	}
	return f
}
