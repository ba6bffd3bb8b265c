package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// Bounds and sizes of the demo.
const (
	demoBudget   = 45 * time.Second // for everything before the clean-up
	tunnelWait   = 10 * time.Second // until the first probe crosses the tunnel
	probeCount   = 20
	probeTimeout = time.Second
	transferTime = 3 * time.Second
	stopWait     = 5 * time.Second // per process, SIGTERM to SIGKILL
	logTailLines = 20
)

// demo is one run of the demo. Its methods run on one goroutine.
type demo struct {
	out, errOut io.Writer
	tlsvpn      string // absolute path of the tlsvpn binary
	self        string // this binary, re-executed for the traffic tools
	dir         string // temporary folder: PKI, configs, logs
	topo        *lab.Topology
	nodes       [2]*lab.Proc // office-a, office-b
	started     time.Time    // when the nodes were started
	servers     []*lab.Proc  // echo-server, sink
}

func newDemo(binary string, out, errOut io.Writer) (*demo, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root: it creates network namespaces (try: sudo make demo)")
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, fmt.Errorf("tlsvpn binary %s: %w", binary, err)
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no tlsvpn binary at %s: build it (make build) or pass --tlsvpn PATH", abs)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	return &demo{out: out, errOut: errOut, tlsvpn: abs, self: self}, nil
}

// runAndCleanUp runs the demo within demoBudget, then removes everything it
// made, whatever happened. On a failure other than an interrupt it first
// prints the tails of the nodes' logs.
func (d *demo) runAndCleanUp(interrupt context.Context) error {
	ctx, cancel := context.WithTimeout(interrupt, demoBudget)
	err := d.run(ctx)
	cancel()
	switch {
	case err == nil:
	case interrupt.Err() != nil:
		err = errors.New("interrupted")
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("did not finish within %v (%w)", demoBudget, err)
		d.printLogTails()
	default:
		d.printLogTails()
	}
	return errors.Join(err, d.cleanUp())
}

func (d *demo) run(ctx context.Context) error {
	printf(d.out, "tlsvpn demo: two offices joined by a tlsvpn tunnel, on this machine\n\n")
	dir, err := os.MkdirTemp("", "tlsvpn-demo-")
	if err != nil {
		return fmt.Errorf("make temporary folder: %w", err)
	}
	d.dir = dir
	steps := []struct {
		what string
		do   func(context.Context) error
	}{
		{"build the network", d.buildNetwork},
		{"make the certificates", d.makePKI},
		{"start the nodes", d.startNodes},
		{"send traffic", d.measure},
		{"show the status", d.showStatus},
	}
	for _, s := range steps {
		if err := s.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func (d *demo) buildNetwork(context.Context) error {
	topo, err := lab.Build(fmt.Sprintf("tvdemo%d", os.Getpid()), lab.Options{LANs: true})
	if err != nil {
		return err
	}
	d.topo = topo
	printf(d.out, "Network  4 network namespaces %s-{lanA,gwA,gwB,lanB}:\n", topo.Prefix)
	printf(d.out, "         host A %s %s -- gwA %s ==veth== %s gwB -- host B %s %s\n",
		lab.HostA4, lab.HostA6, lab.UnderlayA, lab.UnderlayB, lab.HostB4, lab.HostB6)
	return nil
}

func (d *demo) showStatus(ctx context.Context) error {
	out, err := d.topo.RunContext(ctx, d.topo.GwA, d.tlsvpn, "status", "-c", d.configPath(0))
	if err != nil {
		return err
	}
	printf(d.out, "\nStatus   tlsvpn status -c office-a.toml (run on gwA):\n%s", indent(out, "         "))
	return nil
}

// cleanUp stops the servers and the nodes that still run, deletes the
// namespaces and the temporary folder. It runs once, after run, and reports
// what failed. (A process that ended earlier has been reported by run, or
// did no harm.)
func (d *demo) cleanUp() error {
	var errs []error
	stop := func(what string, p *lab.Proc) {
		if p != nil && !p.Exited() {
			if err := p.Stop(stopWait); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", what, err))
			}
		}
	}
	for _, p := range d.servers {
		stop("traffic tool", p)
	}
	for i, p := range d.nodes {
		stop(lab.Offices[i].Name, p)
	}
	if d.topo != nil {
		errs = append(errs, d.topo.Close())
	}
	if d.dir != "" {
		errs = append(errs, os.RemoveAll(d.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up: %w", err)
	}
	printf(d.out, "\nCleaned  nodes stopped, namespaces and %s removed\n", d.dir)
	return nil
}

func (d *demo) printLogTails() {
	for i, p := range d.nodes {
		if p == nil {
			continue
		}
		printf(d.errOut, "\n--- last lines of %s's log (%s) ---\n%s", lab.Offices[i].Name, d.logPath(i), tail(d.logPath(i), logTailLines))
	}
}
