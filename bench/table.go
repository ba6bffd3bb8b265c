package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// render returns the whole report as Markdown.
func (b *bench) render() string {
	var w strings.Builder
	names := b.names()
	m := b.machine
	fmt.Fprintf(&w, "# tlsvpn benchmark, %s\n\n", b.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&w, "Machine: %d CPUs (nproc), %s, Linux %s; bench built with %s; %s.\n", m.nproc, m.cpu, m.kernel, m.goVer, m.iperf3)
	fmt.Fprintf(&w, "**Both nodes, iperf3 client and server and the kernel share this machine's %d cores**: "+
		"read every figure as \"the whole system on %d cores\", not as one end of a real link.\n\n", m.nproc, m.nproc)
	fmt.Fprintf(&w, "Gateway to gateway over the tunnel addresses (two namespaces joined by one veth, MTU 1500); "+
		"iperf3 client on gwA, server on gwB. %d run(s) per system, interleaved (%s), %d s per iperf3 step%s. "+
		"Cells are median [min–max] over the runs; ratios divide medians. ↑: higher is better, ↓: lower is better. "+
		"Columns and caveats: bench/README.md.\n\n",
		b.opts.runs, strings.Join(names, ", "), b.opts.seconds, quickNote(b.opts.quick))
	text := map[string]map[string]string{"version": b.versions, "transport / cipher": b.transports}
	w.WriteString(table(mainRows, names, b.main, []string{"version", "transport / cipher"}, text))
	w.WriteString(b.mainNotes())
	fmt.Fprintf(&w, "\n## Forwarded path, LAN host to LAN host (one run)\n\n")
	w.WriteString(table(lanRows, names, b.lan, nil, nil))
	if slices.Contains(names, nameTLSVPN) {
		fmt.Fprintf(&w, "\n## tlsvpn heap allocations during the 1-stream run\n\n")
		fmt.Fprintf(&w, "From `tlsvpn status --json` on both nodes before and after the run: `runtime.heap_alloc_objects` "+
			"against the peers' `tx_packets` + `rx_packets`. A tunnel packet is one frame, which with TUN offload "+
			"may be a GSO super-packet of up to 64 KiB.\n\n")
		w.WriteString(table(allocRows, []string{nameTLSVPN}, b.main, nil, nil))
	}
	w.WriteString(b.guardNotes())
	w.WriteString(b.failureNotes())
	return w.String()
}

// mainNotes explains figures of the main table that are easy to misread.
func (b *bench) mainNotes() string {
	var w strings.Builder
	w.WriteString("\n")
	ipLen := float64(udpLen + 28) // IPv4 and UDP headers
	for _, n := range b.names() {
		if mtu := median(b.main[n][mMTU]); mtu > 0 && mtu < ipLen {
			fmt.Fprintf(&w, "- UDP: each %d-byte datagram is a %.0f-byte IP packet, above %s's tunnel MTU of %.0f: "+
				"the kernel fragments it in two, which costs that tunnel twice the packets.\n", udpLen, ipLen, displayName(n), mtu)
		}
	}
	if slices.Contains(b.names(), nameVeth) {
		w.WriteString("- veth: no VPN, no processes, so VPN CPU, RSS and tunnel-up are n/a; its IPv6 row uses fd64::1 and " +
			"fd64::2 put on the veth itself.\n")
	}
	w.WriteString("- Ping under load goes from gwA in the direction of the data, every 0.2 s from 0.5 s into the step.\n")
	return w.String()
}

func quickNote(quick bool) string {
	if quick {
		return " (**--quick: a smoke test, not a measurement**)"
	}
	return ""
}

// names returns the systems measured, in run order.
func (b *bench) names() []string {
	names := make([]string, len(b.systems))
	for i, s := range b.systems {
		names[i] = s.name()
	}
	return names
}

// table renders rows for the systems in names, with a column of ratios
// tlsvpn ÷ X for every other system X when tlsvpn is among them. textRows
// come first, with their cells from text[label][system].
func table(rows []row, names []string, data map[string]samples, textRows []string, text map[string]map[string]string) string {
	var ratios []string
	if slices.Contains(names, nameTLSVPN) {
		for _, n := range names {
			if n != nameTLSVPN {
				ratios = append(ratios, n)
			}
		}
	}
	var w strings.Builder
	head := []string{"", "unit"}
	for _, n := range names {
		head = append(head, displayName(n))
	}
	for _, n := range ratios {
		head = append(head, "tlsvpn ÷ "+displayName(n))
	}
	writeRow(&w, head)
	writeRow(&w, slices.Repeat([]string{"---"}, len(head)))
	for _, label := range textRows {
		cells := []string{label, ""}
		for _, n := range names {
			cells = append(cells, escape(text[label][n]))
		}
		writeRow(&w, append(cells, slices.Repeat([]string{""}, len(ratios))...))
	}
	for _, r := range rows {
		cells := []string{r.label, unitCell(r)}
		for _, n := range names {
			cells = append(cells, cell(lab.Summarize(data[n][r.m])))
		}
		for _, n := range ratios {
			cells = append(cells, ratioCell(r, data[nameTLSVPN][r.m], data[n][r.m]))
		}
		writeRow(&w, cells)
	}
	return w.String()
}

func writeRow(w *strings.Builder, cells []string) {
	w.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// escape keeps a text cell from breaking the table.
func escape(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func unitCell(r row) string {
	switch r.better {
	case higher:
		return r.unit + " ↑"
	case lower:
		return r.unit + " ↓"
	}
	return r.unit
}

// cell formats a summary: "n/a" for no value, the value for one, else
// "median [min–max]".
func cell(s lab.Spread[float64]) string {
	switch s.N {
	case 0:
		return "n/a"
	case 1:
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s [%s–%s]", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// ratioCell divides tlsvpn's median by the other system's.
func ratioCell(r row, mine, theirs []float64) string {
	if r.noRatio || len(mine) == 0 || len(theirs) == 0 {
		return ""
	}
	den := median(theirs)
	if den == 0 {
		return ""
	}
	return fmtNum(median(mine)/den) + "×"
}

// fmtNum formats v with about three significant digits, without exponent;
// whole numbers without decimals.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e15: // counts, MTUs
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// guardNotes reports the foreign CPU the guard saw.
func (b *bench) guardNotes() string {
	g := b.guard
	s := lab.Summarize(g.foreign)
	var w strings.Builder
	fmt.Fprintf(&w, "\n## Other work on the machine\n\n")
	fmt.Fprintf(&w, "Foreign CPU (busy time in /proc/stat outside the bench's process tree and kernel threads) during the %d timed steps: "+
		"median %.2f s, max %.2f s. Before each step the bench waited for %d quiet 1-s samples (at most %d ticks "+
		"of foreign CPU each), %s in all; %d wait(s) gave up after %v. %d step(s) were repeated for foreign work "+
		"above max(%.2f CPU-s per second, %.1f CPU-s); %d step(s) were kept above that limit after %d repeats.\n",
		s.N, s.Median, s.Max, quietSamples, quietTicks, g.waited.Round(time.Second), g.noQuiet, g.maxWait,
		g.repeated, foreignPerSecond, guardMinForeign, g.over, g.repeats)
	return w.String()
}

// failureNotes lists failed runs and steps.
func (b *bench) failureNotes() string {
	if len(b.failures) == 0 && len(b.stepErrors) == 0 {
		return ""
	}
	var w strings.Builder
	fmt.Fprintf(&w, "\n## Failures\n\n")
	for _, f := range b.failures {
		fmt.Fprintf(&w, "- run failed, system left out of later runs: %s\n", oneLine(f))
	}
	for _, f := range b.stepErrors {
		fmt.Fprintf(&w, "- step failed, figure missing: %s\n", oneLine(f))
	}
	return w.String()
}

// oneLine shortens a multi-line error for a list item.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
