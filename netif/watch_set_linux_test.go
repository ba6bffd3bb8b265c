package netif

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestUnderlaySetTellsChangesFromRepeats(t *testing.T) {
	const tun, ul = 7, 2
	_, dst, _ := net.ParseCIDR("10.9.0.0/24")
	_, addr, _ := net.ParseCIDR("198.18.0.10/24")
	route := func(msg uint16, link int, proto netlink.RouteProtocol, flags int) netlink.RouteUpdate {
		return netlink.RouteUpdate{Type: msg, Route: netlink.Route{
			LinkIndex: link, Dst: dst, Gw: net.ParseIP("198.18.0.2"), Protocol: proto, Flags: flags, Table: unix.RT_TABLE_MAIN,
		}}
	}
	address := func(added bool, link int) netlink.AddrUpdate {
		return netlink.AddrUpdate{LinkAddress: *addr, LinkIndex: link, NewAddr: added}
	}
	k := underlaySet{addrs: map[string]bool{}, routes: map[string]bool{}}
	for _, c := range []struct {
		name string
		got  bool
		want bool
	}{
		{"a new route on the underlay is a change", k.route(route(unix.RTM_NEWROUTE, ul, unix.RTPROT_BOOT, 0), tun), true},
		{"the same route notified again is not", k.route(route(unix.RTM_NEWROUTE, ul, unix.RTPROT_BOOT, 0), tun), false},
		{"a route removed is a change", k.route(route(unix.RTM_DELROUTE, ul, unix.RTPROT_BOOT, 0), tun), true},
		{"a route on the tunnel is not", k.route(route(unix.RTM_NEWROUTE, tun, unix.RTPROT_BOOT, 0), tun), false},
		{"a route tlsvpn added is not", k.route(route(unix.RTM_NEWROUTE, ul, routeProto, 0), tun), false},
		{"a cached route is not", k.route(route(unix.RTM_NEWROUTE, ul, unix.RTPROT_BOOT, unix.RTM_F_CLONED), tun), false},
		{"a new address on the underlay is a change", k.addr(address(true, ul), tun), true},
		{"the same address notified again (a lifetime refreshed) is not", k.addr(address(true, ul), tun), false},
		{"an address removed is a change", k.addr(address(false, ul), tun), true},
		{"an address on the tunnel is not", k.addr(address(true, tun), tun), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
}
