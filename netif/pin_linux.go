package netif

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The pin is a host route (/32 or /128) to a dial-in client's hub through the
// gateway and interface the host used for it before the tunnel's routes
// covered it (docs/hub-host.md), so that the tunnel's own TCP connection
// stays on the underlay.

// pinFor returns the pin that routes need: s.pin when there is one, none
// when no route covers the hub, else a new one, added with its removal
// registered on rb.
func (s *linkState) pinFor(routes []netip.Prefix, rb *rollback) (*netlink.Route, error) {
	if !s.hub.IsValid() || !covers(routes, s.hub) {
		return nil, nil
	}
	if s.pin != nil {
		return s.pin, nil
	}
	pin, err := s.newPin(s.hub)
	if pin != nil {
		rb.add(func() error { return delPin(pin) })
	}
	return pin, err
}

// newPin adds a pin for hub and returns it. A host route for hub that
// exists already (someone else's) keeps hub on the underlay as it is: newPin
// then adds nothing and returns nil.
func (s *linkState) newPin(hub netip.Addr) (*netlink.Route, error) {
	pin, err := s.underlay(hub)
	if err != nil {
		return nil, err
	}
	switch err := netlink.RouteAdd(pin); {
	case errors.Is(err, unix.EEXIST):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("pin the hub's endpoint %s to the underlay: %w", hub, err)
	}
	return pin, nil
}

// repin moves the pin to hub (see ClientLink.Repin).
func (s *linkState) repin(hub netip.Addr) error {
	s.hub = hub
	if !hub.IsValid() || !covers(s.routes, hub) {
		return s.clearPin()
	}
	if s.pin != nil {
		pin, err := s.underlay(hub)
		switch {
		case err != nil:
			return err
		case samePin(s.pin, pin):
			return nil
		case s.pin.Dst.String() == pin.Dst.String():
			if err := netlink.RouteReplace(pin); err != nil {
				return fmt.Errorf("re-pin the hub's endpoint %s to the underlay: %w", hub, err)
			}
			s.pin = pin
			return nil
		}
	}
	pin, err := s.newPin(hub)
	if err != nil {
		return err
	}
	if err := s.clearPin(); err != nil {
		return errors.Join(err, delPin(pin))
	}
	s.pin = pin
	return nil
}

// clearPin removes the pin, if any.
func (s *linkState) clearPin() error {
	if s.pin == nil {
		return nil
	}
	if err := delPin(s.pin); err != nil {
		return err
	}
	s.pin = nil
	return nil
}

func delPin(pin *netlink.Route) error {
	if err := netlink.RouteDel(pin); err != nil && !gone(err) {
		return fmt.Errorf("remove the host route %s to the hub: %w", pin.Dst, err)
	}
	return nil
}

// underlay returns a pin for hub: a host route through the nexthop of the
// route the kernel uses for hub, or, when that is one of this interface's
// routes or the pin itself, of the best route of the main table that is
// neither (longest prefix, then lowest metric).
func (s *linkState) underlay(hub netip.Addr) (*netlink.Route, error) {
	rs, err := netlink.RouteGetWithOptions(hub.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	if err != nil {
		return nil, fmt.Errorf("look up the route to the hub's endpoint %s: %w", hub, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("look up the route to the hub's endpoint %s: no route", hub)
	}
	via := &rs[0]
	if s.ours(via) {
		if via, err = s.mainLookup(hub); err != nil {
			return nil, err
		}
	}
	if via.Type != unix.RTN_UNICAST {
		return nil, fmt.Errorf("the hub's endpoint %s is not reachable over the underlay (route %s of type %d)", hub, via.Dst, via.Type)
	}
	return s.pinVia(hub, via), nil
}

// mainLookup is the kernel's choice among the main table's routes, without
// the ones s owns.
func (s *linkState) mainLookup(hub netip.Addr) (*netlink.Route, error) {
	family := netlink.FAMILY_V4
	if hub.Is6() {
		family = netlink.FAMILY_V6
	}
	rs, err := netlink.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes to find the underlay to the hub's endpoint %s: %w", hub, err)
	}
	var best *netlink.Route
	for i := range rs {
		r := &rs[i]
		if r.Dst == nil || !prefixOf(r.Dst).Contains(hub) || r.Type != unix.RTN_UNICAST || s.ours(r) {
			continue
		}
		if best == nil || longerOrCloser(r, best) {
			best = r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no route to the hub's endpoint %s outside the tunnel %s", hub, s.name)
	}
	return best, nil
}

// longerOrCloser reports whether the kernel prefers a over b: a longer
// prefix, or as long with a lower metric.
func longerOrCloser(a, b *netlink.Route) bool {
	ab, bb := prefixOf(a.Dst).Bits(), prefixOf(b.Dst).Bits()
	return ab > bb || ab == bb && a.Priority < b.Priority
}

// ours reports whether r goes through this interface or is s's pin.
func (s *linkState) ours(r *netlink.Route) bool {
	return s.pin != nil && samePin(s.pin, r) || through(r, s.link.Attrs().Index)
}

// pinVia is the host route to hub through via's (first) nexthop.
func (s *linkState) pinVia(hub netip.Addr, via *netlink.Route) *netlink.Route {
	link, gw := via.LinkIndex, via.Gw
	if len(via.MultiPath) > 0 {
		link, gw = via.MultiPath[0].LinkIndex, via.MultiPath[0].Gw
	}
	pin := &netlink.Route{
		Dst:       ipNet(netip.PrefixFrom(hub, hub.BitLen())),
		LinkIndex: link,
		Gw:        gw,
		Protocol:  routeProto,
	}
	if gw == nil && hub.Is4() {
		pin.Scope = netlink.SCOPE_LINK
	}
	return pin
}

// samePin reports whether a and b are the same host route.
func samePin(a, b *netlink.Route) bool {
	return a.Dst.String() == b.Dst.String() && a.LinkIndex == b.LinkIndex && a.Gw.Equal(b.Gw)
}

// covers reports whether one of routes contains a.
func covers(routes []netip.Prefix, a netip.Addr) bool {
	for _, p := range routes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
