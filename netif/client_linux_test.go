package netif_test

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A dial-in client's lease (TESTING.md, remote access): pool addresses, a
// pushed default route and a site LAN. The hub's endpoint lies beyond the
// client's underlay gateway.
var (
	lease4    = netip.MustParsePrefix("100.64.8.5/22")
	lease6    = netip.MustParsePrefix("fd64:8::5/64")
	halves    = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1"), netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")}
	hub       = netip.MustParseAddr("198.18.1.1")
	handRoute = netip.MustParsePrefix("10.9.0.0/24") // added by the "administrator"
	lan1v4    = netip.MustParsePrefix("10.1.0.0/24")
)

// clientLab joins the test to gwA of a lab topology, as a dial-in client
// whose default route leads to the gateway gwB (198.18.0.2), behind which
// the hub's endpoint lies. It returns the topology and a TUN in gwA.
func clientLab(t *testing.T) (*lab.Topology, *netif.TUN) {
	top := lab.New(t, lab.Options{})
	ipCmd(t, "-n", top.GwB, "addr", "add", hub.String()+"/32", "dev", "lo")
	ipCmd(t, "-n", top.GwA, "route", "add", "default", "via", lab.UnderlayB)
	joinNetns(t, top.GwA)
	return top, newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1400})
}

func newClientLink(t *testing.T, hub netip.Addr, c netif.LinkConfig) *netif.ClientLink {
	t.Helper()
	l, err := netif.NewClientLink(tunName, hub, c)
	if err != nil {
		t.Fatalf("NewClientLink(%+v): %v", c, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// linkIndex is the index of interface name.
func linkIndex(t *testing.T, name string) int {
	t.Helper()
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	return link.Attrs().Index
}

// hostRoute returns the main table's route for exactly a/32 (or /128).
func hostRoute(t *testing.T, a netip.Addr) (netlink.Route, bool) {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	want := netip.PrefixFrom(a, a.BitLen()).String()
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == want {
			return r, true
		}
	}
	return netlink.Route{}, false
}

// routeOut returns the interface and gateway the kernel uses for a.
func routeOut(t *testing.T, a netip.Addr) (ifindex int, gw net.IP) {
	t.Helper()
	rs, err := netlink.RouteGet(a.AsSlice())
	if err != nil || len(rs) == 0 {
		t.Fatalf("route get %s: %v", a, err)
	}
	return rs[0].LinkIndex, rs[0].Gw
}

// hasAddr reports whether p is on the interface ifindex.
func hasAddr(t *testing.T, ifindex int, p netip.Prefix) bool {
	t.Helper()
	addrs, err := netlink.AddrList(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses: %v", err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == p.String() {
			return true
		}
	}
	return false
}

func TestClientLinkSplitsTheDefaultRouteAndPinsTheHub(t *testing.T) {
	clientLab(t)
	tun, ul := linkIndex(t, tunName), linkIndex(t, lab.UnderlayDev)
	l := newClientLink(t, hub, netif.LinkConfig{
		Addresses: []netip.Prefix{lease4, lease6},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"), lan1v4, pool4},
	})
	// By hand: an address (without it, removing the lease's last IPv4
	// address would make the kernel drop every IPv4 route of the interface)
	// and a route.
	handAddr := netip.MustParsePrefix("10.9.1.1/24")
	ipCmd(t, "addr", "add", handAddr.String(), "dev", tunName)
	ipCmd(t, "route", "add", handRoute.String(), "dev", tunName)

	for _, p := range append(slices.Clone(halves), lan1v4) {
		if !routedVia(t, p, tun) {
			t.Errorf("no route for %s through %s", p, tunName)
		}
	}
	if out, _ := routeOut(t, netip.MustParseAddr(lab.HostB4)); out != tun {
		t.Errorf("%s is routed out of interface %d, want the tunnel %d", lab.HostB4, out, tun)
	}
	pin, ok := hostRoute(t, hub)
	if !ok || pin.LinkIndex != ul || !pin.Gw.Equal(net.ParseIP(lab.UnderlayB)) {
		t.Fatalf("host route to the hub %s: %+v (found %v), want via %s dev %s", hub, pin, ok, lab.UnderlayB, lab.UnderlayDev)
	}
	if out, gw := routeOut(t, hub); out != ul || !gw.Equal(net.ParseIP(lab.UnderlayB)) {
		t.Errorf("the hub is routed out of %d via %v, want the underlay %d via %s", out, gw, ul, lab.UnderlayB)
	}
	if !routedVia(t, netip.MustParsePrefix("0.0.0.0/0"), ul) {
		t.Errorf("the host's own default route was touched")
	}

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, p := range append(slices.Clone(halves), lan1v4) {
		if routedVia(t, p, tun) {
			t.Errorf("route for %s still there after Close", p)
		}
	}
	if r, ok := hostRoute(t, hub); ok {
		t.Errorf("host route to the hub still there after Close: %+v", r)
	}
	for _, p := range []netip.Prefix{lease4, lease6} {
		if hasAddr(t, tun, p) {
			t.Errorf("address %s still on %s after Close", p, tunName)
		}
	}
	if !routedVia(t, handRoute, tun) || !hasAddr(t, tun, handAddr) {
		t.Errorf("Close removed the route %s or the address %s, which it did not add", handRoute, handAddr)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Update(netif.LinkConfig{}); !errors.Is(err, netif.ErrLinkClosed) {
		t.Errorf("Update after Close = %v, want ErrLinkClosed", err)
	}
}

// routeEvents records the route and address changes of the test's
// namespace from now until the returned function is called, which returns
// them as "+prefix" and "-prefix" (addresses as "+addr 100.64.8.9/22").
func routeEvents(t *testing.T) (stop func() []string) {
	t.Helper()
	routes, addrs := make(chan netlink.RouteUpdate, 256), make(chan netlink.AddrUpdate, 256)
	done := make(chan struct{})
	if err := netlink.RouteSubscribe(routes, done); err != nil {
		t.Fatalf("subscribe to routes: %v", err)
	}
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		close(done)
		t.Fatalf("subscribe to addresses: %v", err)
	}
	var events []string
	return func() []string {
		// Markers, added last: once both are seen, so is everything before
		// them (each kind comes on its own socket).
		marker, markerAddr := "10.9.9.0/24", "10.9.8.1/32"
		ipCmd(t, "route", "add", "blackhole", marker)
		ipCmd(t, "addr", "add", markerAddr, "dev", "lo")
		timeout := time.After(10 * time.Second)
		for routeSeen, addrSeen := false, false; !routeSeen || !addrSeen; {
			select {
			case u := <-routes:
				switch {
				case u.Table != unix.RT_TABLE_MAIN:
				case u.Dst.String() == marker:
					routeSeen = true
				default:
					events = append(events, sign(u.Type == unix.RTM_NEWROUTE)+u.Dst.String())
				}
			case u := <-addrs:
				if u.LinkAddress.String() == markerAddr {
					addrSeen = true
					continue
				}
				events = append(events, sign(u.NewAddr)+"addr "+u.LinkAddress.String())
			case <-timeout:
				t.Fatal("the marker route and address were not reported within 10s")
			}
		}
		close(done)
		for range routes {
		}
		for range addrs {
		}
		return events
	}
}

func sign(added bool) string {
	if added {
		return "+"
	}
	return "-"
}

func TestClientLinkUpdateChangesOnlyWhatChanged(t *testing.T) {
	clientLab(t)
	tun := linkIndex(t, tunName)
	l := newClientLink(t, hub, netif.LinkConfig{
		Addresses: []netip.Prefix{lease4, lease6},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"), lan1v4},
	})
	ipCmd(t, "route", "add", handRoute.String(), "dev", tunName)
	pinBefore, _ := hostRoute(t, hub)

	moved := netip.MustParsePrefix("100.64.8.9/22") // the lease moves within its pool
	events := routeEvents(t)
	if err := l.Update(netif.LinkConfig{
		Addresses: []netip.Prefix{moved, lease6},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"), lan4},
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := events()
	kept := append(slices.Clone(halves), lease6, netip.PrefixFrom(hub, 32))
	for _, e := range got {
		what := strings.TrimPrefix(e[1:], "addr ")
		if slices.ContainsFunc(kept, func(p netip.Prefix) bool { return p.String() == what }) {
			t.Errorf("Update touched %s, which both leases have (event %s)", what, e)
		}
	}
	for _, want := range []string{"-" + lan1v4.String(), "+" + lan4.String(), "+addr " + moved.String(), "-addr " + lease4.String()} {
		if !slices.Contains(got, want) {
			t.Errorf("no event %s during Update; events: %v", want, got)
		}
	}
	if !hasAddr(t, tun, moved) || hasAddr(t, tun, lease4) {
		t.Errorf("after moving the lease to %s: on %s: %s %v, %s %v", moved, tunName, moved, hasAddr(t, tun, moved), lease4, hasAddr(t, tun, lease4))
	}
	if pin, ok := hostRoute(t, hub); !ok || pin.Gw.String() != pinBefore.Gw.String() {
		t.Errorf("host route to the hub after Update: %+v (found %v), want it kept", pin, ok)
	}

	// Without a default route no route covers the hub: the pin goes too.
	if err := l.Update(netif.LinkConfig{Addresses: []netip.Prefix{moved}, Routes: []netip.Prefix{lan4}}); err != nil {
		t.Fatalf("Update without a default route: %v", err)
	}
	for _, p := range halves {
		if routedVia(t, p, tun) {
			t.Errorf("half %s still there after a lease without a default route", p)
		}
	}
	if r, ok := hostRoute(t, hub); ok {
		t.Errorf("host route to the hub kept without a default route: %+v", r)
	}
	if hasAddr(t, tun, lease6) {
		t.Errorf("address %s kept after a lease without it", lease6)
	}
	if !routedVia(t, handRoute, tun) {
		t.Errorf("Update removed the route %s it did not add", handRoute)
	}
}

func TestClientLinkFailedUpdateKeepsTheLeaseInForce(t *testing.T) {
	clientLab(t)
	tun := linkIndex(t, tunName)
	l := newClientLink(t, hub, netif.LinkConfig{Addresses: []netip.Prefix{lease4}, Routes: []netip.Prefix{lan1v4}})
	ipCmd(t, "route", "add", handRoute.String(), "dev", tunName)

	added := netip.MustParsePrefix("100.64.8.9/22")
	err := l.Update(netif.LinkConfig{
		Addresses: []netip.Prefix{added},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), handRoute},
	})
	if err == nil || !strings.Contains(err.Error(), handRoute.String()) {
		t.Fatalf("Update over a route that exists = %v, want an error naming %s", err, handRoute)
	}
	if !hasAddr(t, tun, lease4) || hasAddr(t, tun, added) {
		t.Errorf("after a failed Update: %s on %s %v (want true), %s %v (want false)",
			lease4, tunName, hasAddr(t, tun, lease4), added, hasAddr(t, tun, added))
	}
	if !routedVia(t, lan1v4, tun) || routedVia(t, halves[0], tun) {
		t.Errorf("after a failed Update the routes changed: %s %v (want true), %s %v (want false)",
			lan1v4, routedVia(t, lan1v4, tun), halves[0], routedVia(t, halves[0], tun))
	}
	if r, ok := hostRoute(t, hub); ok {
		t.Errorf("a failed Update left a host route to the hub: %+v", r)
	}
	if !routedVia(t, handRoute, tun) {
		t.Errorf("a failed Update removed the route %s it did not add", handRoute)
	}
}

func TestClientLinkRepinFollowsTheUnderlay(t *testing.T) {
	top, _ := clientLab(t)
	ul := linkIndex(t, lab.UnderlayDev)
	other := "198.18.0.3" // a second gateway on the underlay
	ipCmd(t, "-n", top.GwB, "addr", "add", other+"/24", "dev", lab.UnderlayDev)
	l := newClientLink(t, hub, netif.LinkConfig{
		Addresses: []netip.Prefix{lease4},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
	})

	if err := l.Repin(hub); err != nil {
		t.Fatalf("Repin with nothing changed: %v", err)
	}
	if pin, ok := hostRoute(t, hub); !ok || !pin.Gw.Equal(net.ParseIP(lab.UnderlayB)) {
		t.Errorf("pin after an idle Repin: %+v (found %v), want via %s", pin, ok, lab.UnderlayB)
	}

	ipCmd(t, "route", "replace", "default", "via", other)
	if err := l.Repin(hub); err != nil {
		t.Fatalf("Repin after the gateway changed: %v", err)
	}
	if pin, ok := hostRoute(t, hub); !ok || !pin.Gw.Equal(net.ParseIP(other)) || pin.LinkIndex != ul {
		t.Errorf("pin after the gateway changed: %+v (found %v), want via %s", pin, ok, other)
	}

	moved := netip.MustParseAddr("198.18.1.2") // the endpoint resolved anew
	ipCmd(t, "-n", top.GwB, "addr", "add", moved.String()+"/32", "dev", "lo")
	if err := l.Repin(moved); err != nil {
		t.Fatalf("Repin to another endpoint: %v", err)
	}
	if _, ok := hostRoute(t, hub); ok {
		t.Errorf("the pin of the old endpoint %s is still there", hub)
	}
	if pin, ok := hostRoute(t, moved); !ok || !pin.Gw.Equal(net.ParseIP(other)) {
		t.Errorf("pin of the new endpoint: %+v (found %v), want via %s", pin, ok, other)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r, ok := hostRoute(t, moved); ok {
		t.Errorf("pin still there after Close: %+v", r)
	}
}

func TestRoutesCarryTheTLSVPNProtocol(t *testing.T) {
	enterNetns(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500})
	undo := configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4}, Routes: []netip.Prefix{lan4}})
	defer undo()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	for _, r := range routes {
		if r.Dst.String() == lan4.String() && r.Protocol != 116 {
			t.Errorf("route %s has protocol %d, want 116 (docs/hub-host.md)", lan4, r.Protocol)
		}
	}
}
