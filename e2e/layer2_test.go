package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// TAP mode end to end: the layer-2 topology of internal/lab (each gateway a
// bridge br0 holding its LAN veth, the hosts in 10.9.0.0/24 and fd09::/64),
// a node in TAP mode on each gateway whose device joins br0.

// l2Net is the layer-2 topology with a node per gateway: office-a on gwA
// listens; office-b on gwB and, in a star, office-c on gwC dial it.
type l2Net struct {
	*Net
	C *Node // office-c in a star, else nil
}

// l2Options shape an l2Net.
type l2Options struct {
	star bool // a third site; office-a is the hub with forward_between_peers
}

func newL2Net(t *testing.T, o l2Options) *l2Net {
	t.Helper()
	n := &l2Net{Net: &Net{Lab: lab.New(t, lab.Options{Layer2: true, ThirdSite: o.star}), Dir: t.TempDir()}}
	n.A = &Node{Name: "office-a", NS: n.Lab.GwA, net: n.Net}
	n.B = &Node{Name: "office-b", NS: n.Lab.GwB, net: n.Net}
	nodes := []*Node{n.A, n.B}
	if o.star {
		n.C = &Node{Name: "office-c", NS: n.Lab.GwC, net: n.Net}
		nodes = append(nodes, n.C)
	}
	pki := filepath.Join(n.Dir, "pki")
	n.MustRun(t, "", "pki", "init", "--dir", pki, "--name", "e2e CA")
	for _, nd := range nodes {
		n.MustRun(t, "", "pki", "issue", nd.Name, "--dir", pki)
	}
	hub := tapConfig("office-a", "0.0.0.0:"+listenPort, o.star, []tapPeer{{name: "office-b"}})
	if o.star {
		hub = tapConfig("office-a", "0.0.0.0:"+listenPort, true, []tapPeer{{name: "office-b"}, {name: "office-c"}})
		n.C.Config = n.WriteConfig(t, "office-c", tapConfig("office-c", "", false,
			[]tapPeer{{name: "office-a", endpoint: lab.UnderlayHubC + ":" + listenPort}}))
	}
	n.A.Config = n.WriteConfig(t, "office-a", hub)
	n.B.Config = n.WriteConfig(t, "office-b", tapConfig("office-b", "", false,
		[]tapPeer{{name: "office-a", endpoint: lab.UnderlayA + ":" + listenPort}}))
	t.Cleanup(func() {
		if t.Failed() {
			for _, nd := range nodes {
				if nd.Log != "" {
					t.Logf("log of %s:\n%s", nd.Name, tail(nd.LogText(), 60))
				}
			}
		}
	})
	return n
}

// tapPeer is a [[peer]] of a node in TAP mode.
type tapPeer struct{ name, endpoint string }

// tapConfig is a node in TAP mode whose device joins br0; listen "" for
// a node that only dials.
func tapConfig(name, listen string, fbp bool, peers []tapPeer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name = %q\n\n%s\n[interface]\nname   = %q\nmode   = \"tap\"\nbridge = %q\n", name, tlsKeys(name), tunDev, lab.BridgeDev)
	if fbp {
		b.WriteString("forward_between_peers = true\n")
	}
	if listen != "" {
		fmt.Fprintf(&b, "\n[listen]\naddress = %q\n", listen)
	}
	for _, p := range peers {
		fmt.Fprintf(&b, "\n[[peer]]\nname = %q\n", p.name)
		if p.endpoint != "" {
			fmt.Fprintf(&b, "endpoint = %q\n", p.endpoint)
		}
	}
	return b.String()
}

// waitAllConnected polls until every peer of the node is connected.
func (nd *Node) waitAllConnected(t *testing.T, within time.Duration) {
	t.Helper()
	if !lab.WaitFor(within, 50*time.Millisecond, func() bool {
		s, ok := nd.Status(t)
		for _, p := range s.Tunnel.Peers {
			ok = ok && p.State == "connected"
		}
		return ok && len(s.Tunnel.Peers) > 0
	}) {
		s, _ := nd.Status(t)
		t.Fatalf("%s: peers not all connected within %v: %+v", nd.Name, within, s.Tunnel.Peers)
	}
}

// startAll starts the nodes (hub first) and waits until all are connected.
func (n *l2Net) startAll(t *testing.T) {
	t.Helper()
	nodes := []*Node{n.A, n.B}
	if n.C != nil {
		nodes = append(nodes, n.C)
	}
	for _, nd := range nodes {
		nd.Start(t)
	}
	for _, nd := range nodes {
		nd.waitAllConnected(t, 20*time.Second)
	}
}

// mac is the MAC address of dev in namespace ns.
func (n *l2Net) mac(t *testing.T, ns, dev string) string {
	t.Helper()
	out, err := n.Lab.Run(ns, "cat", "/sys/class/net/"+dev+"/address")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// bridgePorts lists the ports of br0 in ns.
func (n *l2Net) bridgePorts(t *testing.T, ns string) string {
	t.Helper()
	out, err := n.Lab.Run(ns, "ip", "-o", "link", "show", "master", lab.BridgeDev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTAPBridgesTwoLANs(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newL2Net(t, l2Options{})
	n.startAll(t)
	for _, tc := range []struct{ name, from, to string }{
		{"lanA reaches lanB over IPv4 (ARP across the tunnel)", n.Lab.LanA, lab.L2HostB4},
		{"lanB reaches lanA over IPv4", n.Lab.LanB, lab.L2HostA4},
		{"lanA reaches lanB over IPv6 (neighbour discovery across)", n.Lab.LanA, lab.L2HostB6},
		{"lanB reaches lanA over IPv6", n.Lab.LanB, lab.L2HostA6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.WaitPing(t, tc.from, tc.to, 10*time.Second)
			if got := n.Ping(t, tc.from, tc.to, 5); got != 5 {
				t.Errorf("%d of 5 pings answered", got)
			}
		})
	}
	s, _ := n.A.Status(t)
	hostB := n.mac(t, n.Lab.LanB, lab.HostDev)
	if s.Mode != "tap" || s.Bridge != lab.BridgeDev || len(s.Tunnel.Peers) != 1 || !contains(s.Tunnel.Peers[0].MACs, hostB) {
		t.Errorf("status of office-a: mode %q, bridge %q, peers %+v; want tap, br0 and lanB's %s learned behind office-b",
			s.Mode, s.Bridge, s.Tunnel.Peers, hostB)
	}
	table, err := n.Run(n.A.NS, "status", "-c", n.A.Config)
	if err != nil || !strings.Contains(table, "interface tlsvpn0 (tap, bridge br0)") || !strings.Contains(table, "MACS") {
		t.Errorf("status table (%v):\n%s", err, table)
	}
	full, err := n.Run(n.A.NS, "status", "-c", n.A.Config, "office-b")
	if err != nil || !strings.Contains(full, "MACs learned behind it: ") {
		t.Errorf("status of office-b in full (%v):\n%s", err, full)
	}
	// The device has the node's stable MAC, and joined the bridge.
	if ports := n.bridgePorts(t, n.A.NS); !strings.Contains(ports, tunDev+":") {
		t.Errorf("br0 ports on gwA: %s; want %s among them", ports, tunDev)
	}

	// Nothing is left at stop: no device, the bridge holds its LAN port only.
	for _, nd := range []*Node{n.A, n.B} {
		nd.Stop(t, syscall.SIGTERM)
		if links := n.Links(t, nd.NS); strings.Contains(links, tunDev) {
			t.Errorf("%s left %s behind:\n%s", nd.Name, tunDev, links)
		}
		if ports := n.bridgePorts(t, nd.NS); strings.Count(ports, "\n") != 1 || !strings.Contains(ports, lab.GatewayDev+"@") {
			t.Errorf("br0 on %s after stop has ports:\n%s", nd.NS, ports)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDHCPAcrossTheTunnel: a DHCP server on site A gives a host on site B
// an address: broadcasts cross the tunnel, and the unicast answer finds
// the client's MAC learned behind office-b.
func TestDHCPAcrossTheTunnel(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newL2Net(t, l2Options{})
	n.startAll(t)
	leases := filepath.Join(n.Dir, "dnsmasq.leases")
	dnsLog := filepath.Join(n.Dir, "dnsmasq.log")
	p, err := n.Lab.Start(n.Lab.LanA, dnsLog, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
		"--interface="+lab.HostDev, "--bind-interfaces", "--dhcp-range=10.9.0.100,10.9.0.150,255.255.255.0,1h",
		"--dhcp-leasefile="+leases, "--log-dhcp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	if !lab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(readFile(dnsLog), "DHCP, IP range") }) {
		t.Fatalf("dnsmasq did not start:\n%s", readFile(dnsLog))
	}
	script := filepath.Join(n.Dir, "udhcpc.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"lease $ip from $serverid\"\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := n.Lab.Run(n.Lab.LanB, "busybox", "udhcpc", "-i", lab.HostDev, "-f", "-q", "-n", "-t", "5", "-T", "2", "-s", script)
	m := regexp.MustCompile(`lease (10\.9\.0\.1[0-5]\d) from ` + regexp.QuoteMeta(lab.L2HostA4)).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("udhcpc on lanB got no lease from lanA's dnsmasq (%v):\n%s\ndnsmasq:\n%s", err, out, readFile(dnsLog))
	}
	if hostB := n.mac(t, n.Lab.LanB, lab.HostDev); !strings.Contains(readFile(dnsLog), "DHCPACK("+lab.HostDev+") "+m[1]+" "+hostB) {
		t.Errorf("dnsmasq did not log the lease of %s to %s:\n%s", m[1], hostB, readFile(dnsLog))
	}
	t.Logf("lanB leased %s from lanA", m[1])
}

// captureOn starts a capture of frames tagged tag on lanNS's eth0 for
// seconds; wait returns how many arrived.
func (n *l2Net) captureOn(t *testing.T, ns, tag string, seconds int) (wait func() int) {
	t.Helper()
	p, log := startHelper(t, n.Net, ns, "capture", lab.HostDev, tag, itoa(seconds))
	return func() int {
		t.Helper()
		if err := p.Wait(); err != nil {
			t.Fatalf("capture in %s: %v\n%s", ns, err, readFile(log))
		}
		var count int
		if _, err := fmt.Sscanf(readFile(log)[strings.Index(readFile(log), "captured"):], "captured %d", &count); err != nil {
			t.Fatalf("capture in %s: %v\n%s", ns, err, readFile(log))
		}
		return count
	}
}

// sendFramesFrom sends count broadcast test frames from ns's eth0 with
// source src ("seq": a new MAC per frame).
func (n *l2Net) sendFramesFrom(t *testing.T, ns, src string, count int, tag string) {
	t.Helper()
	name, argv := helperCmd("frames", lab.HostDev, src, itoa(count), tag)
	if out, err := n.Lab.Run(ns, name, argv...); err != nil {
		t.Fatalf("send frames from %s: %v\n%s", ns, err, out)
	}
}

// TestStarHubForwardsBetweenSpokes: with forward_between_peers on the hub
// of a star, a broadcast from one spoke's LAN reaches the hub's LAN and
// the other spoke's exactly once (and never comes back), and the spokes'
// hosts reach each other through the hub.
func TestStarHubForwardsBetweenSpokes(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newL2Net(t, l2Options{star: true})
	n.startAll(t)
	n.WaitPing(t, n.Lab.LanB, lab.L2HostC4, 10*time.Second)
	if got := n.Ping(t, n.Lab.LanC, lab.L2HostB6, 5); got != 5 {
		t.Errorf("lanC to lanB over IPv6 through the hub: %d of 5 answered", got)
	}
	const seconds = 3
	atA := n.captureOn(t, n.Lab.LanA, "once", seconds)
	atC := n.captureOn(t, n.Lab.LanC, "once", seconds)
	atB := n.captureOn(t, n.Lab.LanB, "once", seconds)
	n.sendFramesFrom(t, n.Lab.LanB, n.mac(t, n.Lab.LanB, lab.HostDev), 1, "once")
	for _, c := range []struct {
		site string
		got  func() int
		want int
	}{{"site A (the hub)", atA, 1}, {"site C", atC, 1}, {"site B (the sender)", atB, 0}} {
		if got := c.got(); got != c.want {
			t.Errorf("%s received the broadcast %d times, want %d", c.site, got, c.want)
		}
	}
}

// TestTAPEnforcesMACLimitAndSpoofing: a site whose LAN shows more than
// 1,024 source MACs gets the ones beyond dropped at the far node
// (mac_limit) while its known hosts keep working; a frame from site B
// with the MAC of a host of site A is dropped at site A (mac_spoof) and
// logged.
func TestTAPEnforcesMACLimitAndSpoofing(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newL2Net(t, l2Options{})
	n.startAll(t)
	n.WaitPing(t, n.Lab.LanA, lab.L2HostB4, 10*time.Second)

	n.sendFramesFrom(t, n.Lab.LanB, "seq", 1200, "many")
	peerB := func() (macs int, drops map[string]uint64) {
		s, _ := n.A.Status(t)
		if len(s.Tunnel.Peers) != 1 {
			return 0, nil
		}
		return len(s.Tunnel.Peers[0].MACs), s.Tunnel.Peers[0].Drops
	}
	if !lab.WaitFor(10*time.Second, 100*time.Millisecond, func() bool { m, d := peerB(); return m == 1024 && d["mac_limit"] > 0 }) {
		m, d := peerB()
		t.Fatalf("office-a learned %d MACs behind office-b, drops %v; want 1024 and mac_limit drops", m, d)
	}
	if got := n.Ping(t, n.Lab.LanA, lab.L2HostB4, 3); got != 3 {
		t.Errorf("after the flood of MACs lanA to lanB: %d of 3 answered", got)
	}

	// office-b lets the spoofed MAC through once lanA's host has been
	// silent on its side for the hold-down; office-a refuses it.
	hostA := n.mac(t, n.Lab.LanA, lab.HostDev)
	if !lab.WaitFor(15*time.Second, 300*time.Millisecond, func() bool {
		n.sendFramesFrom(t, n.Lab.LanB, hostA, 1, "spoof")
		_, d := peerB()
		return d["mac_spoof"] > 0
	}) {
		_, d := peerB()
		t.Fatalf("office-a counted no mac_spoof drop: %v", d)
	}
	if log := n.A.LogText(); !regexp.MustCompile(`msg="dropping packets" peer=office-b reason=mac_spoof`).MatchString(log) ||
		!strings.Contains(log, `reason=mac_limit`) {
		t.Errorf("office-a logged no mac_spoof and mac_limit lines:\n%s", tail(log, 30))
	}
}

// TestTAPRefusals: a TUN node and a TAP node refuse each other, both
// logging both modes; a TAP node does not take over an existing device of
// its name, which keeps its persist flag.
func TestTAPRefusals(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newL2Net(t, l2Options{})
	t.Run("a TUN node and a TAP node refuse each other", func(t *testing.T) {
		n.B.Config = n.WriteConfig(t, "office-b-tun", "name = \"office-b\"\n\n"+tlsKeys("office-b")+"\n"+
			iface(`["100.64.0.2/24"]`, "")+"\n[[peer]]\nname = \"office-a\"\n"+
			fmt.Sprintf("endpoint = \"%s:%s\"\nallowed_ips = [\"100.64.0.1/32\"]\n", lab.UnderlayA, listenPort))
		n.A.Start(t)
		n.B.Start(t)
		for _, c := range []struct {
			nd   *Node
			want string
		}{
			{n.A, `mode mismatch: this node runs \"tap\", peer \"tun\"`},
			{n.B, `mode mismatch: this node runs \"tun\", peer \"tap\"`},
		} {
			if !lab.WaitFor(15*time.Second, 50*time.Millisecond, func() bool { return strings.Contains(c.nd.LogText(), c.want) }) {
				t.Errorf("%s logged no refusal saying %s:\n%s", c.nd.Name, c.want, tail(c.nd.LogText(), 20))
			}
		}
		if s, _ := n.A.Status(t); len(s.Tunnel.Peers) != 1 || s.Tunnel.Peers[0].State == "connected" {
			t.Errorf("office-a's peer: %+v", s.Tunnel.Peers)
		}
		n.A.Stop(t, syscall.SIGTERM)
		n.B.Stop(t, syscall.SIGTERM)
	})
	t.Run("an existing device of the same name is refused", func(t *testing.T) {
		if out, err := n.Lab.Run(n.A.NS, "ip", "tuntap", "add", tunDev, "mode", "tap"); err != nil {
			t.Fatalf("make a persistent TAP: %v\n%s", err, out)
		}
		n.A.Start(t)
		if err := n.A.Proc.Wait(); exitCode(err) != 1 {
			t.Errorf("tlsvpn up exited with %v, want status 1", err)
		}
		if log := n.A.LogText(); !strings.Contains(log, "interface "+tunDev+" already exists and was not created by this process") {
			t.Errorf("no error naming the existing interface:\n%s", log)
		}
		if out, _ := n.Lab.Run(n.A.NS, "ip", "-d", "link", "show", tunDev); !strings.Contains(out, "persist on") {
			t.Errorf("the administrator's TAP lost its persist flag or vanished:\n%s", out)
		}
	})
}
