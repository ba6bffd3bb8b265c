// Command tlsvpn-demo shows tlsvpn at work on one machine ("make demo", as
// root): it builds two office networks in network namespaces, makes a CA and
// certificates with the tlsvpn binary, starts a node on each gateway, measures
// round trip and throughput from a host in one office to a host in the other
// through the tunnel, prints "tlsvpn status", and removes everything again,
// also when interrupted or when something fails.
//
// Its traffic tools are hidden subcommands of this same binary, which the
// demo re-executes inside the namespaces (see tools.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		if _, ok := tools[os.Args[1]]; ok {
			os.Exit(runTool(os.Args[1], os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(runDemo(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, as for tlsvpn itself.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `Usage: tlsvpn-demo [--tlsvpn PATH]

Builds two offices joined by a tlsvpn tunnel in network namespaces, shows
round trip and throughput from a host in office A to a host in office B,
prints "tlsvpn status", and removes everything. Needs root and iproute2.

Example:
  sudo bin/tlsvpn-demo --tlsvpn bin/tlsvpn

Flags:
`

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tlsvpn-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	binary := fs.String("tlsvpn", defaultTLSVPN(), "path of the tlsvpn binary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tlsvpn-demo: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	d, err := newDemo(*binary, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tlsvpn-demo: %v\n", err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.runAndCleanUp(ctx); err != nil {
		fmt.Fprintf(stderr, "\ntlsvpn-demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// defaultTLSVPN is bin/tlsvpn beside this binary (bin/tlsvpn-demo).
func defaultTLSVPN() string {
	exe, err := os.Executable()
	if err != nil {
		return "tlsvpn"
	}
	return filepath.Join(filepath.Dir(exe), "tlsvpn")
}
