package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// A system is one thing the bench measures: a VPN between the two gateways
// of a topology, or the bare veth between them. Its methods run on the
// bench's goroutine, one at a time.
type system interface {
	// name is the system's name in --only and in the tables.
	name() string
	// prepare makes what every run needs (keys, binaries), once, before the
	// first run. It touches no network.
	prepare(ctx context.Context, e *env) error
	// version describes the system's software, for the table.
	version(ctx context.Context) string
	// transport describes the transport and cipher; s is the first run's
	// setup, after its steps, from which a system may read what it negotiated.
	transport(ctx context.Context, s *setup) string
	// listen sets up the listening end on gwA (for the veth: the addresses
	// and routes of both ends) and returns once it accepts peers.
	listen(ctx context.Context, s *setup) error
	// dial starts the dialing end on gwB; it returns without waiting for
	// the tunnel.
	dial(ctx context.Context, s *setup) error
}

// allocCounter is a system that can report its heap allocations and tunnel
// packets (tlsvpn, through its status command).
type allocCounter interface {
	counters(ctx context.Context, s *setup) ([2]nodeCounters, error)
}

// nodeCounters are one node's cumulative counters at one moment.
type nodeCounters struct {
	at      time.Time
	allocs  uint64 // heap objects allocated since start
	packets uint64 // tunnel packets sent and received, all peers
}

// Names of the systems, as --only takes them.
const (
	nameTLSVPN    = "tlsvpn"
	nameTAP       = "tap" // tlsvpn in TAP mode
	nameWireGuard = "wireguard-go"
	nameOpenVPN   = "openvpn"
	nameVeth      = "veth"
)

// systemNames lists every system in the order they run and are shown.
var systemNames = []string{nameTLSVPN, nameTAP, nameWireGuard, nameOpenVPN, nameVeth}

// displayName is the system's column heading.
func displayName(name string) string {
	switch name {
	case nameOpenVPN:
		return "OpenVPN TCP"
	case nameTAP:
		return "tlsvpn TAP"
	}
	return name
}

// env is what the systems share: the binaries and the bench's folder.
type env struct {
	dir      string // the bench's temporary folder
	pki      string // the PKI made by tlsvpn pki, in dir/pki
	tlsvpn   string // absolute path of the tlsvpn binary
	wgGo     string // wireguard-go binary; "" until prepared
	cacheDir string // where wireguard-go is installed
}

// Tunnel addresses of the test topology (docs/design.md), without prefix length.
const (
	tunnelA4 = "100.64.0.1"
	tunnelB4 = "100.64.0.2"
	tunnelA6 = "fd64::1"
	tunnelB6 = "fd64::2"
)

// setup is one system set up in one topology. The bench fills topo and dir;
// the system fills the rest in listen and dial.
type setup struct {
	topo   *lab.Topology
	dir    string    // this run's folder: configs and logs
	dev    [2]string // the tunnel device on gwA and on gwB
	a4, b4 string    // gwA's and gwB's addresses through the tunnel
	a6, b6 string
	procs  []*lab.Proc // the system's processes, gwA's first
	names  []string    // their names, for messages
	logs   []string    // their logs, for a failure report
	undo   []func()    // run after the topology is closed
}

// vpnAddrs fills s with the tunnel addresses every VPN uses.
func (s *setup) vpnAddrs() {
	s.a4, s.b4, s.a6, s.b6 = tunnelA4, tunnelB4, tunnelA6, tunnelB6
}

// start starts name with args in namespace ns, logging to s.dir/logName,
// and counts it among the system's processes.
func (s *setup) start(ns, logName, name string, args ...string) (*lab.Proc, error) {
	log := filepath.Join(s.dir, logName)
	p, err := s.topo.Start(ns, log, name, args...)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	s.names = append(s.names, fmt.Sprintf("%s in %s", name, ns))
	s.logs = append(s.logs, log)
	return p, nil
}

// run runs name with args in namespace ns and returns its output; the error
// names the command.
func (s *setup) run(ctx context.Context, ns, name string, args ...string) (string, error) {
	return s.topo.RunContext(ctx, ns, name, args...)
}

// pids returns the pids of the system's processes.
func (s *setup) pids() []int {
	pids := make([]int, len(s.procs))
	for i, p := range s.procs {
		pids[i] = p.Pid()
	}
	return pids
}

// alive returns an error naming a system process that has exited.
func (s *setup) alive() error {
	for i, p := range s.procs {
		if p.Exited() {
			return fmt.Errorf("%s exited (%v); its log %s ends:\n%s", s.names[i], p.Wait(), s.logs[i], tail(s.logs[i], logTailLines))
		}
	}
	return nil
}

// logTails returns the last lines of every log of the system, each under
// a heading, for a failure message; "" when there are none.
func (s *setup) logTails() string {
	var b strings.Builder
	for i, log := range s.logs {
		fmt.Fprintf(&b, "\n  --- %s, %s:\n%s", s.names[i], log, tail(log, logTailLines))
	}
	return strings.TrimRight(b.String(), "\n")
}

// stop stops the system's processes, last started first.
func (s *setup) stop() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		errs = append(errs, s.procs[i].Stop(stopWait))
	}
	return errors.Join(errs...)
}

// mtu returns the MTU of device dev in namespace ns.
func (s *setup) mtu(ctx context.Context, ns, dev string) (float64, error) {
	out, err := s.run(ctx, ns, "ip", "-o", "link", "show", "dev", dev)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "mtu" {
			var v float64
			if _, err := fmt.Sscan(f[i+1], &v); err == nil {
				return v, nil
			}
		}
	}
	return 0, fmt.Errorf("no MTU in %q", out)
}

// ipCmds runs ip(8) command lines in namespace ns, in order.
func (s *setup) ipCmds(ctx context.Context, ns string, cmds ...[]string) error {
	for _, c := range cmds {
		if _, err := s.run(ctx, ns, "ip", c...); err != nil {
			return err
		}
	}
	return nil
}

// newSystem returns the system called name.
func newSystem(name string, e *env) (system, error) {
	switch name {
	case nameTLSVPN:
		return &tlsvpnSystem{env: e}, nil
	case nameTAP:
		return &tlsvpnSystem{env: e, tap: true}, nil
	case nameWireGuard:
		return &wireguardSystem{env: e}, nil
	case nameOpenVPN:
		return &openvpnSystem{env: e}, nil
	case nameVeth:
		return vethSystem{}, nil
	}
	return nil, fmt.Errorf("unknown system %q (want one of %s)", name, strings.Join(systemNames, ", "))
}

// writeFile writes data to path with mode perm, naming path in the error.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
