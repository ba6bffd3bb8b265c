package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
)

// tlsvpnSystem runs two tlsvpn nodes configured as in the test topology
// (docs/design.md): office-a on gwA listens on 198.18.0.1:4433, office-b on
// gwB dials it; tunnel 100.64.0.1/24 fd64::1/64 and .2; everything else at
// its default (MTU 1500, offload "auto"). Certificates come from
// "tlsvpn pki".
//
// With tap it is the "tap" system: the same nodes in TAP mode, the tunnel
// addresses on their TAP devices (no bridge), and each gateway routing the
// other's LAN via the other's tunnel address for the LAN path.
type tlsvpnSystem struct {
	env *env
	tap bool
}

// tlsvpnConfig returns the office's configuration file, with absolute PKI
// paths.
func tlsvpnConfig(o lab.Office, pki string) string {
	return o.Config(pki, 0, "tlsvpn-bench")
}

func (t *tlsvpnSystem) name() string {
	if t.tap {
		return nameTAP
	}
	return nameTLSVPN
}

// confPath is where node i's configuration is written.
func (t *tlsvpnSystem) confPath(i int) string {
	return filepath.Join(t.env.dir, t.name()+"-"+lab.Offices[i].Name+".toml")
}

// prepare writes both configurations and checks them with "tlsvpn check".
func (t *tlsvpnSystem) prepare(ctx context.Context, e *env) error {
	for i, o := range lab.Offices {
		o.TAP = t.tap
		if err := writeFile(t.confPath(i), []byte(tlsvpnConfig(o, e.pki)), 0o644); err != nil {
			return err
		}
		out, err := exec.CommandContext(ctx, e.tlsvpn, "check", "-c", t.confPath(i)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tlsvpn check -c %s: %w: %s", t.confPath(i), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func (t *tlsvpnSystem) version(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, t.env.tlsvpn, "version").CombinedOutput()
	v := firstLine(string(out))
	if err != nil || v == "" {
		v = "unknown version"
	}
	return v + goVersionOf(ctx, t.env.tlsvpn)
}

func (t *tlsvpnSystem) listen(ctx context.Context, s *setup) error {
	s.dev = [2]string{lab.TunnelDev, lab.TunnelDev}
	s.vpnAddrs()
	p, err := s.start(s.topo.GwA, "office-a.log", t.env.tlsvpn, "up", "-c", t.confPath(0))
	if err != nil {
		return fmt.Errorf("start office-a: %w", err)
	}
	if err := waitListening(ctx, s.topo, s.topo.GwA, "4433", p); err != nil || !t.tap {
		return err
	}
	return s.ipCmds(ctx, s.topo.GwA, []string{"route", "add", "10.2.0.0/24", "via", tunnelB4, "dev", lab.TunnelDev})
}

func (t *tlsvpnSystem) dial(ctx context.Context, s *setup) error {
	p, err := s.start(s.topo.GwB, "office-b.log", t.env.tlsvpn, "up", "-c", t.confPath(1))
	if err != nil {
		return fmt.Errorf("start office-b: %w", err)
	}
	if !t.tap {
		return nil
	}
	// The route to the other LAN needs the TAP, which the node makes at once.
	err = poll(ctx, listenTimeout, upPoll, lab.TunnelDev+" in "+s.topo.GwB, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("exited before making %s: %w", lab.TunnelDev, p.Wait())
		}
		out, err := s.run(ctx, s.topo.GwB, "ip", "-o", "addr", "show", "dev", lab.TunnelDev, "to", tunnelB4)
		return err == nil && strings.TrimSpace(out) != "", nil
	})
	if err != nil {
		return err
	}
	return s.ipCmds(ctx, s.topo.GwB, []string{"route", "add", "10.1.0.0/24", "via", tunnelA4, "dev", lab.TunnelDev})
}

// status asks node i for its status.
func (t *tlsvpnSystem) status(ctx context.Context, s *setup, i int) (status.Node, error) {
	ns := [2]string{s.topo.GwA, s.topo.GwB}[i]
	out, err := s.run(ctx, ns, t.env.tlsvpn, "status", "-c", t.confPath(i), "--json")
	if err != nil {
		return status.Node{}, fmt.Errorf("status of %s: %w", lab.Offices[i].Name, err)
	}
	var st status.Node
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return status.Node{}, fmt.Errorf("status of %s: parse JSON: %w", lab.Offices[i].Name, err)
	}
	return st, nil
}

// counters reads both nodes' heap allocations and tunnel packets.
func (t *tlsvpnSystem) counters(ctx context.Context, s *setup) ([2]nodeCounters, error) {
	var c [2]nodeCounters
	for i := range c {
		st, err := t.status(ctx, s, i)
		if err != nil {
			return c, err
		}
		c[i] = nodeCounters{at: time.Now(), allocs: st.Runtime.HeapAllocObjects}
		for _, p := range st.Tunnel.Peers {
			c[i].packets += p.TxPackets + p.RxPackets
		}
	}
	return c, nil
}

// transport reports what office-a negotiated with office-b.
func (t *tlsvpnSystem) transport(ctx context.Context, s *setup) string {
	const base = "TCP + TLS 1.3 (crypto/tls)"
	st, err := t.status(ctx, s, 0)
	if err != nil || len(st.Tunnel.Peers) == 0 {
		return base
	}
	p := st.Tunnel.Peers[0]
	if t.tap {
		return fmt.Sprintf("TCP + %s, %s, %s; TAP (Ethernet frames, no offload)", p.TLSVersion, p.Cipher, p.Group)
	}
	offload := "none"
	if len(st.Tunnel.Offload) > 0 {
		offload = strings.Join(st.Tunnel.Offload, ",")
	}
	return fmt.Sprintf("TCP + %s, %s, %s; TUN offload %s", p.TLSVersion, p.Cipher, p.Group, offload)
}
