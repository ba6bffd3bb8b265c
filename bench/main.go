// Command tlsvpn-bench ("make bench", as root) measures tlsvpn against the
// newest wireguard-go, OpenVPN 2.6 in TCP mode and the bare veth as the
// ceiling, in one run: every system in its own pair of network namespaces,
// runs interleaved, iperf3 and ping through the tunnel, CPU and memory from
// /proc. It prints one Markdown report and writes it to
// bench/results/<UTC date-time>.md. It reports; it does not pass or fail.
//
// See bench/README.md for what it needs, what each figure means and the
// caveats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Exit codes, as for tlsvpn itself.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Bounds of the flags.
const (
	maxRuns    = 50
	maxSeconds = 50 // lab runs every command with a 60-s timeout
)

// options are the parsed flags.
type options struct {
	runs      int
	seconds   int // iperf3 seconds per step
	only      []string
	quick     bool
	tlsvpn    string
	out       string
	wgGo      string // wireguard-go binary; "" installs the pinned version
	quietWait time.Duration
	repeats   int
}

const usage = `Usage: tlsvpn-bench [flags]

Measures tlsvpn (TUN and TAP mode) against wireguard-go, OpenVPN (TCP) and the bare veth, gateway
to gateway in network namespaces, runs interleaved; prints a Markdown report
and writes it to OUT/<UTC date-time>.md. Needs root, iproute2, iperf3, ping,
wireguard-tools, openvpn, and Go (to install wireguard-go). See bench/README.md.

Examples:
  make bench
  make bench BENCHFLAGS='--quick --only tlsvpn,veth'
  sudo bin/tlsvpn-bench --tlsvpn bin/tlsvpn --runs 7 --time 10

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tlsvpn-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.IntVar(&o.runs, "runs", 5, "runs per system (interleaved)")
	fs.IntVar(&o.seconds, "time", 5, "iperf3 seconds per step")
	only := fs.String("only", strings.Join(systemNames, ","), "comma-separated systems to measure: "+strings.Join(systemNames, ", "))
	fs.BoolVar(&o.quick, "quick", false, "smoke test: 1 run, 1-s steps, short waits for a quiet box, no repeats")
	fs.StringVar(&o.tlsvpn, "tlsvpn", "bin/tlsvpn", "path of the tlsvpn binary")
	fs.StringVar(&o.out, "out", "bench/results", "folder for the report")
	fs.StringVar(&o.wgGo, "wireguard-go", "", "wireguard-go binary to use instead of installing "+wgGoModule+"@"+wgGoVersion)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.runs < 1 || o.runs > maxRuns {
		return o, fmt.Errorf("--runs %d: want 1 to %d", o.runs, maxRuns)
	}
	if o.seconds < 1 || o.seconds > maxSeconds {
		return o, fmt.Errorf("--time %d: want 1 to %d seconds", o.seconds, maxSeconds)
	}
	var err error
	if o.only, err = parseOnly(*only); err != nil {
		return o, err
	}
	o.quietWait, o.repeats = defaultQuietWait, maxRepeats
	if o.quick {
		o.runs, o.seconds, o.quietWait, o.repeats = 1, 1, quickQuietWait, quickMaxRepeats
	}
	return o, nil
}

// parseOnly returns the named systems in run order, each once.
func parseOnly(list string) ([]string, error) {
	var want []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(systemNames, n) {
			return nil, fmt.Errorf("--only: unknown system %q (want some of %s)", n, strings.Join(systemNames, ", "))
		}
		want = append(want, n)
	}
	var names []string
	for _, n := range systemNames {
		if slices.Contains(want, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("--only: no system named")
	}
	return names, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tlsvpn-bench: %v\n", err)
		return exitUsage
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "tlsvpn-bench: needs root: it creates network namespaces (try: sudo make bench)")
		return exitFailure
	}
	b, err := newBench(opts, stderr, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "tlsvpn-bench: %v\n", err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := b.runAndCleanUp(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted; namespaces and processes removed, no report written")
		}
		fmt.Fprintf(stderr, "\ntlsvpn-bench: %v\n", err)
		return exitFailure
	}
	return exitOK
}
