package lab

import (
	"fmt"
	"strings"
	"time"
)

// site is one LAN: its host namespace, its gateway and their addresses.
type site struct {
	host, gw     string
	gw4, gw6     string // gateway addresses on lan0
	host4, host6 string // host addresses on eth0
}

func (t *Topology) build() error {
	for _, ns := range t.Namespaces() {
		if _, err := ip("netns", "add", ns); err != nil {
			return err
		}
		t.made = append(t.made, ns)
		if err := setSysctls(ns, ns == t.GwA || ns == t.GwB || ns == t.GwC); err != nil {
			return err
		}
	}
	for _, cmd := range t.plan() {
		if _, err := ip(cmd...); err != nil {
			return err
		}
	}
	return t.waitReady()
}

// plan lists the ip(8) commands that wire the namespaces, in order. Links
// go up before default routes are added, since a gateway must be on-link.
func (t *Topology) plan() [][]string {
	var cmds [][]string
	for _, ns := range t.Namespaces() {
		cmds = append(cmds, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	cmds = append(cmds,
		vethCmd(t.GwA, UnderlayDev, t.GwB, UnderlayDev),
		addrCmd(t.GwA, UnderlayDev, UnderlayA+"/24"),
		addrCmd(t.GwB, UnderlayDev, UnderlayB+"/24"),
		upCmd(t.GwA, UnderlayDev),
		upCmd(t.GwB, UnderlayDev),
	)
	switch {
	case t.layer2:
		cmds = append(cmds, t.layer2Cmds()...)
	case t.LanA != "":
		cmds = append(cmds, siteCmds(site{host: t.LanA, gw: t.GwA,
			gw4: GatewayA4, gw6: GatewayA6, host4: HostA4, host6: HostA6})...)
		cmds = append(cmds, siteCmds(site{host: t.LanB, gw: t.GwB,
			gw4: GatewayB4, gw6: GatewayB6, host4: HostB4, host6: HostB6})...)
	}
	return cmds
}

// siteCmds wires one LAN: a veth from the gateway (lan0) to the host (eth0),
// /24 and /64 addresses on both ends, and the host's default routes via the
// gateway.
func siteCmds(s site) [][]string {
	return [][]string{
		vethCmd(s.gw, GatewayDev, s.host, HostDev),
		addrCmd(s.gw, GatewayDev, s.gw4+"/24"),
		addrCmd(s.gw, GatewayDev, s.gw6+"/64"),
		addrCmd(s.host, HostDev, s.host4+"/24"),
		addrCmd(s.host, HostDev, s.host6+"/64"),
		upCmd(s.gw, GatewayDev),
		upCmd(s.host, HostDev),
		{"-n", s.host, "-4", "route", "add", "default", "via", s.gw4, "dev", HostDev},
		{"-n", s.host, "-6", "route", "add", "default", "via", s.gw6, "dev", HostDev},
	}
}

// vethCmd creates a veth pair with one end in each namespace; neither end
// ever exists in the root namespace.
func vethCmd(ns1, dev1, ns2, dev2 string) []string {
	return []string{"-n", ns1, "link", "add", dev1, "type", "veth", "peer", "name", dev2, "netns", ns2}
}

// addrCmd adds an address; IPv6 ones with nodad, so they are usable at once.
func addrCmd(ns, dev, prefix string) []string {
	return append([]string{"-n", ns}, addrArgs(dev, prefix)...)
}

// addrArgs are addrCmd's arguments without the namespace.
func addrArgs(dev, prefix string) []string {
	args := []string{"addr", "add", prefix, "dev", dev}
	if strings.Contains(prefix, ":") {
		args = append(args, "nodad")
	}
	return args
}

func upCmd(ns, dev string) []string {
	return append([]string{"-n", ns}, upArgs(dev)...)
}

func upArgs(dev string) []string { return []string{"link", "set", dev, "up"} }

// setSysctls sets up namespace ns before its devices exist, so that they
// inherit the settings: IPv4 and IPv6 forwarding on or off (off is written
// too: with net.core.devconf_inherit_init_net=0 a new namespace copies the
// root namespace's IPv4 settings, forwarding included), and no duplicate
// address detection, so that link-local addresses are usable at once too.
func setSysctls(ns string, forwarding bool) error {
	fwd := "0"
	if forwarding {
		fwd = "1"
	}
	settings := []struct{ key, value string }{
		{"net/ipv4/ip_forward", fwd},
		{"net/ipv6/conf/all/forwarding", fwd},
		{"net/ipv6/conf/all/accept_dad", "0"},
		{"net/ipv6/conf/default/accept_dad", "0"},
	}
	for _, s := range settings {
		if err := writeSysctl(ns, s.key, s.value); err != nil {
			return fmt.Errorf("set up namespace %s: %w", ns, err)
		}
	}
	return nil
}

// readyWait bounds the wait for the veth links to come up.
const readyWait = 10 * time.Second

// waitReady waits until every veth end has its IPv6 link-local address. The
// kernel adds it only once the link has carrier, which veth reports
// asynchronously; until then the first packets routed over the link may be
// dropped.
func (t *Topology) waitReady() error {
	for _, l := range t.links() {
		if err := waitLinkLocal(ipIn(l.ns), l.ns, l.dev); err != nil {
			return err
		}
	}
	return nil
}

// waitLinkLocal waits until dev, in the namespace that ipRun runs ip(8)
// in, has its IPv6 link-local address (see waitReady); where names that
// namespace for errors.
func waitLinkLocal(ipRun func(args ...string) (string, error), where, dev string) error {
	ready := WaitFor(readyWait, 10*time.Millisecond, func() bool {
		out, err := ipRun("-6", "-o", "addr", "show", "dev", dev, "scope", "link", "-tentative")
		return err == nil && strings.Contains(out, "fe80::")
	})
	if !ready {
		return fmt.Errorf("link %s in %s not up within %v", dev, where, readyWait)
	}
	return nil
}

// ipIn returns a function that runs ip(8) in namespace ns.
func ipIn(ns string) func(args ...string) (string, error) {
	return func(args ...string) (string, error) { return ip(append([]string{"-n", ns}, args...)...) }
}

// link is one veth end.
type link struct{ ns, dev string }

// links lists the topology's veth ends.
func (t *Topology) links() []link {
	links := []link{{t.GwA, UnderlayDev}, {t.GwB, UnderlayDev}}
	if t.LanA != "" {
		links = append(links, link{t.GwA, GatewayDev}, link{t.LanA, HostDev},
			link{t.GwB, GatewayDev}, link{t.LanB, HostDev})
	}
	if t.GwC != "" {
		links = append(links, link{t.GwA, SecondUnderlayDev}, link{t.GwC, UnderlayDev},
			link{t.GwC, GatewayDev}, link{t.LanC, HostDev})
	}
	return links
}
