package netif_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/vishvananda/netlink"
)

// addBridgeRoute makes an empty bridge (no ports, so no traffic) that is up
// and holds a route for p.
func addBridgeRoute(t *testing.T, name string, p netip.Prefix) {
	t.Helper()
	br := addBridge(t, name)
	dst := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: br.Attrs().Index, Dst: dst}); err != nil {
		t.Fatalf("add route %s via %s: %v", p, name, err)
	}
}

func TestConfigureRollsBackOnError(t *testing.T) {
	enterNetns(t)
	taken := netip.MustParsePrefix("10.9.0.0/24")
	addBridgeRoute(t, "tvbr0", taken)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500})

	undo, err := netif.Configure(tunName, netif.LinkConfig{
		Addresses: []netip.Prefix{tunNet4, tunNet6},
		Routes:    []netip.Prefix{lan4, taken, lan6},
	})
	if err == nil {
		undo()
		t.Fatal("Configure replaced an existing route")
	}
	for _, want := range []string{"add route", tunName, taken.String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	link, lerr := netlink.LinkByName(dev.Name())
	if lerr != nil {
		t.Fatalf("look up %s: %v", dev.Name(), lerr)
	}
	if link.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("%s left up after a failed Configure", tunName)
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_ALL)
	for _, a := range addrs {
		if !a.IP.IsLinkLocalUnicast() {
			t.Errorf("address %v left on %s after a failed Configure", a, tunName)
		}
	}
	if routedVia(t, lan4, link.Attrs().Index) {
		t.Errorf("route %s left after a failed Configure", lan4)
	}
	br, _ := netlink.LinkByName("tvbr0")
	if !routedVia(t, taken, br.Attrs().Index) {
		t.Errorf("the existing route for %s was touched", taken)
	}
}

func TestAddAndDelRoute(t *testing.T) {
	enterNetns(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500})
	configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4, tunNet6}})
	link, err := netlink.LinkByName(tunName)
	if err != nil {
		t.Fatal(err)
	}
	idx := link.Attrs().Index
	for _, p := range []netip.Prefix{lan4, lan6} {
		if err := netif.AddRoute(tunName, p); err != nil {
			t.Fatalf("AddRoute(%s): %v", p, err)
		}
		if !routedVia(t, p, idx) {
			t.Errorf("no route for %s after AddRoute", p)
		}
		if err := netif.AddRoute(tunName, p); err == nil || !strings.Contains(err.Error(), p.String()) {
			t.Errorf("second AddRoute(%s) = %v, want an error naming the prefix", p, err)
		}
		if err := netif.DelRoute(tunName, p); err != nil {
			t.Fatalf("DelRoute(%s): %v", p, err)
		}
		if routedVia(t, p, idx) {
			t.Errorf("route for %s still there after DelRoute", p)
		}
		if err := netif.DelRoute(tunName, p); err != nil {
			t.Errorf("DelRoute of a route already gone = %v, want nil", err)
		}
	}
	if err := netif.DelRoute("tvnosuch0", lan4); err != nil {
		t.Errorf("DelRoute on a vanished interface = %v, want nil", err)
	}
	if err := netif.AddRoute("tvnosuch0", lan4); err == nil || !strings.Contains(err.Error(), "tvnosuch0") {
		t.Errorf("AddRoute on a missing interface = %v, want an error naming it", err)
	}
}
