package lab

import (
	"strings"
	"testing"
)

// TestLayer2TopologyIsAStarOfBridgedSites: with Layer2 and ThirdSite each
// gateway holds a bridge with its LAN veth in it, the hub reaches the
// third gateway over the second underlay, the hosts share one subnet
// (without a tunnel they reach only themselves), and Close removes all
// six namespaces.
func TestLayer2TopologyIsAStarOfBridgedSites(t *testing.T) {
	needRoot(t)
	topo, err := Build(nextPrefix(), Options{Layer2: true, ThirdSite: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	if got := listed(t, topo.Prefix); len(got) != 6 {
		t.Errorf("namespaces %v; want lanA, gwA, gwB, lanB, gwC, lanC", got)
	}
	for _, gw := range []string{topo.GwA, topo.GwB, topo.GwC} {
		out, err := topo.Run(gw, "ip", "-o", "link", "show", "master", BridgeDev)
		if err != nil || !strings.Contains(out, GatewayDev+"@") {
			t.Errorf("%s: ports of %s: %v %s; want %s", gw, BridgeDev, err, out, GatewayDev)
		}
	}
	if n, out, err := topo.Ping(topo.GwA, UnderlayC, 2); err != nil || n != 2 {
		t.Errorf("gwA to gwC over the second underlay: %d replies, %v\n%s", n, err, out)
	}
	if n, _, _ := topo.Ping(topo.LanA, L2HostB4, 1); n != 0 {
		t.Error("lanA reached lanB without a tunnel")
	}
	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, topo.Prefix); len(got) != 0 {
		t.Errorf("after Close, namespaces %v are left", got)
	}
}

func TestAThirdSiteNeedsLayer2(t *testing.T) {
	if _, err := Build(nextPrefix(), Options{LANs: true, ThirdSite: true}); err == nil || !strings.Contains(err.Error(), "needs Layer2") {
		t.Errorf("Build = %v; want an error saying a third site needs Layer2", err)
	}
}
