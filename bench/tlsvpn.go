package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// tlsvpnSystem runs two tlsvpn nodes configured as in DESIGN.md: office-a on
// gwA listens on 198.18.0.1:4433, office-b on gwB dials it; tunnel
// 100.64.0.1/24 fd64::1/64 and .2; everything else at its default (MTU 1500,
// offload "auto"). Certificates come from "tlsvpn pki".
type tlsvpnSystem struct {
	env *env
}

const (
	tlsvpnDev    = "tlsvpn0"
	tlsvpnListen = lab.UnderlayA + ":4433"
)

// tlsvpnNode is one of the two nodes' configurations.
type tlsvpnNode struct {
	name, peer string
	addrs      []string
	listen     string // "" when it only dials
	endpoint   string // "" when it only listens
	allowed    []string
}

var tlsvpnNodes = [2]tlsvpnNode{
	{name: "office-a", peer: "office-b", addrs: []string{tunnelA4 + "/24", tunnelA6 + "/64"}, listen: tlsvpnListen,
		allowed: []string{tunnelB4 + "/32", tunnelB6 + "/128", "10.2.0.0/24", "fd02::/64"}},
	{name: "office-b", peer: "office-a", addrs: []string{tunnelB4 + "/24", tunnelB6 + "/64"}, endpoint: tlsvpnListen,
		allowed: []string{tunnelA4 + "/32", tunnelA6 + "/128", "10.1.0.0/24", "fd01::/64"}},
}

// config returns the node's configuration file, with absolute PKI paths.
func (n tlsvpnNode) config(pki string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: written by tlsvpn-bench\nname = %q\n\n", n.name, n.name)
	fmt.Fprintf(&b, "[tls]\nca   = %q\ncert = %q\nkey  = %q\ncrl  = %q\n\n",
		filepath.Join(pki, "ca.pem"), filepath.Join(pki, n.name+".pem"), filepath.Join(pki, n.name+".key"), filepath.Join(pki, "crl.pem"))
	fmt.Fprintf(&b, "[interface]\nname    = %q\naddress = %s\n\n", tlsvpnDev, tomlList(n.addrs))
	if n.listen != "" {
		fmt.Fprintf(&b, "[listen]\naddress = %q\n\n", n.listen)
	}
	fmt.Fprintf(&b, "[[peer]]\nname        = %q\n", n.peer)
	if n.endpoint != "" {
		fmt.Fprintf(&b, "endpoint    = %q\n", n.endpoint)
	}
	fmt.Fprintf(&b, "allowed_ips = %s\n", tomlList(n.allowed))
	return b.String()
}

// tomlList formats plain ASCII strings as a TOML array.
func tomlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (t *tlsvpnSystem) name() string { return nameTLSVPN }

// confPath is where node i's configuration is written.
func (t *tlsvpnSystem) confPath(i int) string {
	return filepath.Join(t.env.dir, tlsvpnNodes[i].name+".toml")
}

// prepare writes both configurations and checks them with "tlsvpn check".
func (t *tlsvpnSystem) prepare(ctx context.Context, e *env) error {
	for i, n := range tlsvpnNodes {
		if err := writeFile(t.confPath(i), []byte(n.config(e.pki)), 0o644); err != nil {
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
	s.dev = [2]string{tlsvpnDev, tlsvpnDev}
	s.vpnAddrs()
	p, err := s.start(s.topo.GwA, "office-a.log", t.env.tlsvpn, "up", "-c", t.confPath(0))
	if err != nil {
		return fmt.Errorf("start office-a: %w", err)
	}
	return waitListening(ctx, s.topo, s.topo.GwA, "4433", p)
}

func (t *tlsvpnSystem) dial(_ context.Context, s *setup) error {
	if _, err := s.start(s.topo.GwB, "office-b.log", t.env.tlsvpn, "up", "-c", t.confPath(1)); err != nil {
		return fmt.Errorf("start office-b: %w", err)
	}
	return nil
}

// tlsvpnStatus is the part of "tlsvpn status --json" the bench reads
// (docs/status.md, version 1).
type tlsvpnStatus struct {
	Runtime struct {
		HeapAllocObjects uint64 `json:"heap_alloc_objects"`
	} `json:"runtime"`
	Tunnel struct {
		TUNOffload []string `json:"tun_offload"`
		Peers      []struct {
			TLSVersion  string `json:"tls_version"`
			CipherSuite string `json:"cipher_suite"`
			KeyExchange string `json:"key_exchange"`
			TxPackets   uint64 `json:"tx_packets"`
			RxPackets   uint64 `json:"rx_packets"`
		} `json:"peers"`
	} `json:"tunnel"`
}

// status asks node i for its status.
func (t *tlsvpnSystem) status(ctx context.Context, s *setup, i int) (tlsvpnStatus, error) {
	ns := [2]string{s.topo.GwA, s.topo.GwB}[i]
	out, err := s.run(ctx, ns, t.env.tlsvpn, "status", "-c", t.confPath(i), "--json")
	if err != nil {
		return tlsvpnStatus{}, fmt.Errorf("status of %s: %w", tlsvpnNodes[i].name, err)
	}
	var st tlsvpnStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return tlsvpnStatus{}, fmt.Errorf("status of %s: parse JSON: %w", tlsvpnNodes[i].name, err)
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
	offload := "none"
	if len(st.Tunnel.TUNOffload) > 0 {
		offload = strings.Join(st.Tunnel.TUNOffload, ",")
	}
	return fmt.Sprintf("TCP + %s, %s, %s; TUN offload %s", p.TLSVersion, p.CipherSuite, p.KeyExchange, offload)
}
