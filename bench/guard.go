package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// The foreign-CPU guard (bench/README.md, "Method and caveats"): the
// machine is shared, so before each timed step the bench waits for a quiet
// box, and it repeats a step during which other work used noticeable CPU.
const (
	quietTicks       = 5               // at most this much foreign CPU (in 1/100 s) per 1-s sample is quiet
	quietSamples     = 2               // consecutive quiet samples needed
	sampleInterval   = time.Second     // length of one sample
	foreignPerSecond = 0.05            // CPU-s of foreign work per second of a step above which it is repeated
	defaultQuietWait = 2 * time.Minute // longest wait for a quiet box before a step
	quickQuietWait   = 3 * time.Second // the same with --quick
	maxRepeats       = 2               // repeats of one step for foreign work
	quickMaxRepeats  = 0               // the same with --quick
	guardMinForeign  = 0.1             // never repeat for less than this many CPU-s
)

// cpuSample is the machine's CPU time at one moment, split by whose it is.
type cpuSample struct {
	at     time.Time
	busy   uint64 // /proc/stat busy time, all CPUs
	own    uint64 // this process and its descendants, waited-for children included
	kernel uint64 // kernel threads (softirq work for anyone, ours included)
}

// takeSample reads /proc/stat and every process's CPU time.
func takeSample() (cpuSample, error) {
	procs, err := scanProcs()
	if err != nil {
		return cpuSample{}, err
	}
	busy, err := readBusyTicks()
	if err != nil {
		return cpuSample{}, err
	}
	s := cpuSample{at: time.Now(), busy: busy}
	own := ownTree(procs, os.Getpid())
	for _, p := range procs {
		switch {
		case own[p.pid]:
			s.own += p.ticks + p.childTicks
		case p.kthread:
			s.kernel += p.ticks
		}
	}
	return s, nil
}

// ownTree returns the set of pids that are root or descend from it.
func ownTree(procs []procStat, root int) map[int]bool {
	parent := make(map[int]int, len(procs))
	for _, p := range procs {
		parent[p.pid] = p.ppid
	}
	own := map[int]bool{root: true}
	for _, p := range procs {
		// Walk up at most len(procs) steps: pid 1's parent is 0.
		for pid, n := p.pid, 0; pid > 0 && n <= len(procs); pid, n = parent[pid], n+1 {
			if own[pid] {
				own[p.pid] = true
				break
			}
		}
	}
	return own
}

// foreignSince returns the CPU seconds used between prev and s by anything
// but this process tree and kernel threads: other users' processes,
// including short-lived ones and ones in other PID namespaces (they all show
// in /proc/stat's total).
func (s cpuSample) foreignSince(prev cpuSample) float64 {
	busy := float64(s.busy-prev.busy) / userHZ
	return max(busy-s.mineSince(prev), 0)
}

// mineSince returns the CPU seconds used between prev and s by this process
// tree and by kernel threads: the bench's share of the box.
func (s cpuSample) mineSince(prev cpuSample) float64 {
	return float64((s.own-prev.own)+(s.kernel-prev.kernel)) / userHZ
}

// guard waits for a quiet box and keeps account of foreign CPU. Its methods
// run on the bench's goroutine only.
type guard struct {
	out      io.Writer // progress
	maxWait  time.Duration
	repeats  int
	foreign  []float64 // foreign CPU-s during each kept timed step
	over     int       // steps kept although over the limit
	repeated int       // steps repeated
	noQuiet  int       // waits that ended without a quiet box
	waited   time.Duration
}

// waitQuiet returns once quietSamples consecutive 1-s samples show at most
// quietTicks of foreign CPU each, or after maxWait (counted in noQuiet), or
// with ctx's error.
func (g *guard) waitQuiet(ctx context.Context) error {
	start := time.Now()
	defer func() { g.waited += time.Since(start) }()
	prev, err := takeSample()
	if err != nil {
		return fmt.Errorf("wait for a quiet box: %w", err)
	}
	ticker := time.NewTicker(sampleInterval)
	defer ticker.Stop()
	quiet := 0
	for quiet < quietSamples {
		if time.Since(start) >= g.maxWait {
			g.noQuiet++
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		cur, err := takeSample()
		if err != nil {
			return fmt.Errorf("wait for a quiet box: %w", err)
		}
		if cur.foreignSince(prev)*userHZ <= quietTicks {
			quiet++
		} else {
			quiet = 0
		}
		prev = cur
	}
	return nil
}

// limit returns the foreign CPU-s above which a step of length d is repeated.
func limit(d time.Duration) float64 {
	return max(foreignPerSecond*d.Seconds(), guardMinForeign)
}

// timed runs fn after waiting for a quiet box and repeats it (up to
// g.repeats times) when foreign work above the limit showed up during it.
// It returns the last attempt's figures.
func (g *guard) timed(ctx context.Context, what string, fn func(context.Context) (figures, error)) (figures, error) {
	for attempt := 0; ; attempt++ {
		if err := g.waitQuiet(ctx); err != nil {
			return nil, err
		}
		before, err := takeSample()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		f, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		after, err := takeSample()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		foreign := after.foreignSince(before)
		over := foreign > limit(after.at.Sub(before.at))
		if over && attempt < g.repeats {
			g.repeated++
			progress(g.out, "      %s: %.2f CPU-s of foreign work during the step, repeating", what, foreign)
			continue
		}
		if over {
			g.over++
		}
		g.foreign = append(g.foreign, foreign)
		return f, nil
	}
}
