package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// measure starts the servers on host B, waits until the tunnel carries a
// probe from host A, then measures round trips and one TCP transfer.
func (d *demo) measure(ctx context.Context) error {
	tr := traffic{topo: d.topo, self: d.self, logDir: d.dir}
	echo, err := tr.startEcho(d.topo.LanB)
	if err != nil {
		return err
	}
	d.servers = append(d.servers, echo)
	if err := d.waitForTunnel(ctx, tr); err != nil {
		return err
	}
	if err := d.measureRTT(ctx, tr); err != nil {
		return err
	}
	return d.measureThroughput(ctx, tr)
}

// waitForTunnel probes host B from host A until a probe over IPv4 and one
// over IPv6 have been answered.
func (d *demo) waitForTunnel(ctx context.Context, tr traffic) error {
	pending := []string{lab.HostB4, lab.HostB6}
	lab.WaitFor(tunnelWait, 100*time.Millisecond, func() bool {
		if ctx.Err() != nil || d.nodeDown() != nil {
			return true
		}
		res, err := tr.probe(ctx, d.topo.LanA, pending[0], 1, 300*time.Millisecond)
		if err == nil && len(res.RTTs) == 1 {
			pending = pending[1:]
		}
		return len(pending) == 0
	})
	switch {
	case len(pending) == 0:
		printf(d.out, "\nTraffic  host A reaches host B through the tunnel (%.1f s after the nodes started)\n",
			time.Since(d.started).Seconds())
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case d.nodeDown() != nil:
		return d.nodeDown()
	default:
		return fmt.Errorf("no probe from host A reached host B at %s within %v", pending[0], tunnelWait)
	}
}

func (d *demo) measureRTT(ctx context.Context, tr traffic) error {
	printf(d.out, "\nRTT      host A -> host B, %d UDP probes each\n", probeCount)
	printf(d.out, "%s\n", strings.TrimRight(fmt.Sprintf(rttRow, "", "min", "median", "max", ""), " \n"))
	paths := []struct{ family, from, to string }{
		{"IPv4", lab.HostA4, lab.HostB4},
		{"IPv6", lab.HostA6, lab.HostB6},
	}
	for _, p := range paths {
		res, err := tr.probe(ctx, d.topo.LanA, p.to, probeCount, probeTimeout)
		if err != nil {
			return err
		}
		printf(d.out, "%s", rttLine(p.family, p.from, p.to, res))
		if len(res.RTTs) == 0 {
			return fmt.Errorf("no %s probe answered", p.family)
		}
	}
	return nil
}

func (d *demo) measureThroughput(ctx context.Context, tr traffic) error {
	sink, _, err := tr.startSink(d.topo.LanB)
	if err != nil {
		return err
	}
	d.servers = append(d.servers, sink)
	res, err := tr.send(ctx, d.topo.LanA, lab.HostB4, transferTime)
	if err != nil {
		return err
	}
	if err := checkTransfer(res); err != nil {
		return err
	}
	printf(d.out, "\nTransfer one TCP stream host A -> host B for %.0f s\n", transferTime.Seconds())
	printf(d.out, "         %.0f Mbit/s: %d bytes in %.2f s, all received intact (count and CRC-32C match)\n",
		mbits(res.Sent.Bytes, res.Seconds), res.Sent.Bytes, res.Seconds)
	return nil
}
