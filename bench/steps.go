package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// The latency-under-load bottleneck: a token bucket on the underlay of both
// gateways.
var tbfArgs = []string{"root", "tbf", "rate", "200mbit", "burst", "64kb", "latency", "300ms"}

const tbfRate = 200e6 // bit/s

// step is one timed measurement of a run.
type step struct {
	what string
	do   func(context.Context) (figures, error)
}

// bringUp builds a topology for sys, sets sys up in it and measures the
// time from launching the dialing end to the first ping reply through the
// tunnel. On error it removes what it made.
func (b *bench) bringUp(ctx context.Context, sys system, tag string, lans bool) (*setup, time.Duration, error) {
	dir := filepath.Join(b.env.dir, sys.name()+"-"+tag)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, fmt.Errorf("make run folder: %w", err)
	}
	prefix := fmt.Sprintf("tvb%d%s%c", os.Getpid(), tag, sys.name()[0])
	topo, err := lab.Build(prefix, lab.Options{LANs: lans})
	if err != nil {
		return nil, 0, err
	}
	s := &setup{topo: topo, dir: dir}
	up, err := b.startTunnel(ctx, sys, s)
	if err != nil {
		err = errors.Join(err, b.tearDown(s))
		return nil, 0, err
	}
	return s, up, nil
}

// startTunnel runs sys's listening end, then launches the dialing end and
// waits for the first ping reply from gwB to gwA through the tunnel. Its
// errors carry the tails of the system's logs.
func (b *bench) startTunnel(ctx context.Context, sys system, s *setup) (time.Duration, error) {
	if err := sys.listen(ctx, s); err != nil {
		return 0, fmt.Errorf("start the listening end: %w%s", err, s.logTails())
	}
	t0 := time.Now()
	if err := sys.dial(ctx, s); err != nil {
		return 0, fmt.Errorf("start the dialing end: %w%s", err, s.logTails())
	}
	up, err := firstReply(ctx, s.topo, s.topo.GwB, s.a4, t0, s.alive)
	if err != nil {
		return 0, fmt.Errorf("bring the tunnel up: %w%s", err, s.logTails())
	}
	return up, nil
}

// tearDown stops sys's processes, deletes the namespaces and undoes what
// the system left outside them. Only a topology that cannot be removed is
// an error: a daemon's exit status on SIGTERM is of no interest here.
func (b *bench) tearDown(s *setup) error {
	_ = s.stop()
	err := s.topo.Close()
	for _, undo := range s.undo {
		undo()
	}
	return err
}

// measureRun measures sys gateway to gateway once: every step of the main
// table. A failed step leaves its figures out; a failed set-up, a daemon
// that died or a topology that cannot be removed fails the run.
func (b *bench) measureRun(ctx context.Context, sys system, run int) (f figures, err error) {
	s, up, err := b.bringUp(ctx, sys, fmt.Sprintf("r%d", run), false)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, b.tearDown(s)) }()
	f = figures{}
	if len(s.procs) > 0 {
		f[mUp] = up.Seconds()
		progress(b.progress, "  %-34s %.3f s", "tunnel up", up.Seconds())
	}
	steps := b.mainSteps(sys, s, run)
	if err := b.runSteps(ctx, sys, s, steps, f); err != nil {
		return nil, err
	}
	if err := b.readAfter(ctx, s, f); err != nil {
		b.stepFailed(sys, "read MTU and RSS", err)
	}
	if run == 1 {
		b.transports[sys.name()] = sys.transport(ctx, s)
	}
	return f, nil
}

// mainSteps lists the timed steps of a gateway-to-gateway run.
func (b *bench) mainSteps(sys system, s *setup, run int) []step {
	gwA, gwB := s.topo.GwA, s.topo.GwB
	tcp := func(m metric, streams int, reverse bool, addr string) step {
		what := "TCP 1 stream"
		if streams > 1 {
			what = fmt.Sprintf("TCP %d streams", streams)
		}
		if reverse {
			what += " reverse"
		}
		if addr == s.b6 {
			what += " IPv6"
		}
		spec := iperfSpec{client: gwA, server: gwB, addr: addr, streams: streams, reverse: reverse, seconds: b.opts.seconds}
		return step{what, func(ctx context.Context) (figures, error) {
			r, err := runIperf(ctx, s.topo, s.dir, spec)
			return figures{m: r.bps / 1e9}, err
		}}
	}
	steps := []step{
		{"ping idle", b.idlePing(s, gwA, s.b4, mRTTIdle)},
		{"TCP 1 stream, ping, CPU", b.loadedRun(sys, s)},
		tcp(mTCP4, 4, false, s.b4),
		tcp(mTCP1R, 1, true, s.b4),
		tcp(mTCP4R, 4, true, s.b4),
		{"UDP 1400 B at 1 Gbit/s", b.udpRun(s)},
	}
	if run == 1 {
		steps = append(steps, tcp(mTCP6, 1, false, s.b6))
	}
	return append(steps, step{"200 Mbit/s TBF, 1 stream, ping", b.tbfRun(s)})
}

// runSteps runs steps through the foreign-CPU guard and adds their figures
// to f. It returns an error only when ctx is done or a daemon has died.
func (b *bench) runSteps(ctx context.Context, sys system, s *setup, steps []step, f figures) error {
	for _, st := range steps {
		g, err := b.guard.timed(ctx, st.what, st.do)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if aerr := s.alive(); aerr != nil {
			return fmt.Errorf("during %s: %w", st.what, aerr)
		}
		if err != nil {
			b.stepFailed(sys, st.what, err)
			continue
		}
		f.add(g)
		progress(b.progress, "  %-34s %s", st.what, describe(g))
	}
	return nil
}

// readAfter adds the tunnel MTU and, for a VPN, each end's peak RSS.
func (b *bench) readAfter(ctx context.Context, s *setup, f figures) error {
	mtu, err := s.mtu(ctx, s.topo.GwA, s.dev[0])
	if err != nil {
		return err
	}
	f[mMTU] = mtu
	for i, m := range []metric{mRSSA, mRSSB} {
		if i >= len(s.procs) {
			break
		}
		hwm, err := readPeakRSS(s.procs[i].Pid())
		if err != nil {
			return err
		}
		f[m] = float64(hwm) / (1 << 20)
	}
	return nil
}

// idlePing measures the idle round trip from → to.
func (b *bench) idlePing(s *setup, from, to string, m metric) func(context.Context) (figures, error) {
	count, interval := 20, 200*time.Millisecond
	if b.opts.quick {
		count, interval = 5, 100*time.Millisecond
	}
	return func(ctx context.Context) (figures, error) {
		rtts, err := pingRTTs(ctx, s.topo, from, to, count, interval)
		if err != nil {
			return nil, err
		}
		return figures{m: median(rtts)}, nil
	}
}

// loadedRun is the 1-stream run: throughput, retransmits, RTT under load,
// CPU per GB and (for tlsvpn) allocations.
func (b *bench) loadedRun(sys system, s *setup) func(context.Context) (figures, error) {
	return func(ctx context.Context) (figures, error) {
		ac, counts := sys.(allocCounter)
		var c0 [2]nodeCounters
		if counts {
			var err error
			if c0, err = ac.counters(ctx, s); err != nil {
				return nil, err
			}
		}
		before, err := b.cpuNow(s)
		if err != nil {
			return nil, err
		}
		r, rtts, pingErr, err := b.streamWithPing(ctx, s)
		if err != nil {
			return nil, err
		}
		after, err := b.cpuNow(s)
		if err != nil {
			return nil, err
		}
		f := figures{mTCP1: r.bps / 1e9, mRetr1: r.retransmits}
		f.add(after.perGB(before, r.bytes, len(s.procs) > 0))
		if pingErr != nil {
			b.stepFailed(sys, "ping under 1 stream", pingErr)
		} else {
			f[mRTTLoaded], f[mRTTLoadMax] = median(rtts), maxOf(rtts)
		}
		if counts {
			c1, err := ac.counters(ctx, s)
			if err != nil {
				return nil, err
			}
			f.add(allocFigures(c0, c1, r.bytes))
		}
		return f, nil
	}
}

// udpRun offers UDP at udpRate and reports what arrived.
func (b *bench) udpRun(s *setup) func(context.Context) (figures, error) {
	return func(ctx context.Context) (figures, error) {
		spec := iperfSpec{client: s.topo.GwA, server: s.topo.GwB, addr: s.b4, streams: 1, udp: true, seconds: b.opts.seconds}
		r, err := runIperf(ctx, s.topo, s.dir, spec)
		if err != nil {
			return nil, err
		}
		return figures{mUDPRecv: r.bps / 1e6, mUDPLoss: r.lossPct}, nil
	}
}

// tbfRun puts the 200 Mbit/s token bucket on both gateways' underlay and
// measures one bulk flow and the RTT beside it, then removes the bucket.
func (b *bench) tbfRun(s *setup) func(context.Context) (figures, error) {
	return func(ctx context.Context) (f figures, err error) {
		gws := []string{s.topo.GwA, s.topo.GwB}
		for _, ns := range gws {
			args := append([]string{"qdisc", "add", "dev", lab.UnderlayDev}, tbfArgs...)
			if _, err := s.run(ctx, ns, "tc", args...); err != nil {
				return nil, fmt.Errorf("add the token bucket: %w", err)
			}
		}
		defer func() {
			for _, ns := range gws {
				if _, derr := s.run(context.WithoutCancel(ctx), ns, "tc", "qdisc", "del", "dev", lab.UnderlayDev, "root"); derr != nil {
					err = errors.Join(err, fmt.Errorf("remove the token bucket: %w", derr))
				}
			}
		}()
		r, rtts, pingErr, err := b.streamWithPing(ctx, s)
		if err != nil {
			return nil, err
		}
		if pingErr != nil {
			return nil, pingErr
		}
		return figures{mTBFRTT: median(rtts), mTBFPct: 100 * r.bps / tbfRate}, nil
	}
}

// measureLAN measures the forwarded path once: host A to host B through
// both gateways and the tunnel.
func (b *bench) measureLAN(ctx context.Context, sys system) (f figures, err error) {
	s, _, err := b.bringUp(ctx, sys, "lan", true)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, b.tearDown(s)) }()
	t := s.topo
	if _, err := firstReply(ctx, t, t.LanA, lab.HostB4, time.Now(), s.alive); err != nil {
		return nil, fmt.Errorf("host A to host B: %w", err)
	}
	lanTCP := func(m metric, reverse bool) func(context.Context) (figures, error) {
		spec := iperfSpec{client: t.LanA, server: t.LanB, addr: lab.HostB4, streams: 1, reverse: reverse, seconds: b.opts.seconds}
		return func(ctx context.Context) (figures, error) {
			r, err := runIperf(ctx, t, s.dir, spec)
			return figures{m: r.bps / 1e9}, err
		}
	}
	steps := []step{
		{"ping idle, host A to host B", b.idlePing(s, t.LanA, lab.HostB4, mLANRTT)},
		{"TCP 1 stream, host A to host B", lanTCP(mLANTCP1, false)},
		{"TCP 1 stream reverse", lanTCP(mLANTCP1R, true)},
	}
	f = figures{}
	if err := b.runSteps(ctx, sys, s, steps, f); err != nil {
		return nil, err
	}
	return f, nil
}

// describe formats figures for a progress line, in metric order.
func describe(f figures) string {
	units := map[metric]string{}
	for _, rs := range [][]row{mainRows, lanRows, allocRows} {
		for _, r := range rs {
			units[r.m] = r.unit
		}
	}
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s %s %s", m, fmtNum(f[m]), units[m]))
	}
	return strings.Join(parts, " · ")
}

// streamWithPing runs one iperf3 stream from gwA to gwB's tunnel address
// and pings the same address meanwhile.
func (b *bench) streamWithPing(ctx context.Context, s *setup) (r iperfResult, rtts []float64, pingErr, err error) {
	spec := iperfSpec{client: s.topo.GwA, server: s.topo.GwB, addr: s.b4, streams: 1, seconds: b.opts.seconds}
	rtts, pingErr, err = duringLoad(ctx, s.topo, s.topo.GwA, s.b4, b.opts.seconds, func(ctx context.Context) (err error) {
		r, err = runIperf(ctx, s.topo, s.dir, spec)
		return err
	})
	return r, rtts, pingErr, err
}
