package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// linkState is what this process has put on one interface: the addresses and
// routes it added and, for a dial-in client, the host route that keeps the
// hub's endpoint on the underlay (the pin). Configure and ClientLink both
// change an interface through it, so that a new configuration is applied as
// a difference and exactly what was added can be removed again.
//
// Its methods talk netlink in the calling thread's network namespace and
// must not run concurrently.
type linkState struct {
	name string
	link netlink.Link
	// hub is the endpoint to pin when a route covers it; invalid for none.
	hub    netip.Addr
	addrs  []netip.Prefix // addresses added, as given
	routes []netip.Prefix // routes added, masked
	pin    *netlink.Route // nil when no pin was added
}

// apply moves the interface from what s holds to addrs and routes. It adds
// the new addresses, sets the link up, waits until they are usable, pins the
// hub's endpoint when one of routes covers it, and adds the new routes; only
// then does it remove the routes, the pin and the addresses that are no
// longer wanted. What is wanted and there already is not touched. Duplicates
// in addrs and routes count once.
//
// When an addition fails, apply undoes the others and s is as before. A
// removal that fails is returned, and what it could not remove stays in s
// for the next apply or clear to try again.
func (s *linkState) apply(addrs, routes []netip.Prefix) error {
	addrs, routes = prefixSet(addrs, false), prefixSet(routes, true)
	pin, err := s.add(addrs, routes)
	if err != nil {
		return err
	}
	var errs []error
	s.routes, errs = s.removeRoutes(without(s.routes, routes), routes, errs)
	if pin != nil {
		s.pin = pin
	} else if err := s.clearPin(); err != nil {
		errs = append(errs, err)
	}
	s.addrs, errs = s.removeAddrs(without(s.addrs, addrs), addrs, errs)
	return errors.Join(errs...)
}

// add is the first half of apply: it adds what is missing, all or nothing,
// and returns the pin in force once routes are (s.pin, a new one, or nil).
func (s *linkState) add(addrs, routes []netip.Prefix) (pin *netlink.Route, err error) {
	var rb rollback
	defer func() {
		if err != nil {
			if rerr := rb.run(); rerr != nil {
				err = fmt.Errorf("%w (and rolling back: %v)", err, rerr)
			}
		}
	}()
	added := without(addrs, s.addrs)
	for _, p := range added {
		if err := addAddr(s.link, s.name, p); err != nil {
			return nil, err
		}
		rb.add(func() error { return delAddr(s.link, s.name, p) })
	}
	if err := setUp(s.link, s.name, &rb); err != nil {
		return nil, err
	}
	if err := waitUsable(s.name, added); err != nil {
		return nil, err
	}
	if pin, err = s.pinFor(routes, &rb); err != nil {
		return nil, err
	}
	for _, p := range without(routes, s.routes) {
		if err := addRoute(s.link, s.name, p); err != nil {
			return nil, err
		}
		rb.add(func() error { return delRoute(s.link, s.name, p) })
	}
	return pin, nil
}

// removeRoutes removes gone and returns keep plus what it could not remove,
// with errs and the failures.
func (s *linkState) removeRoutes(gone, keep []netip.Prefix, errs []error) ([]netip.Prefix, []error) {
	return s.remove(delRoute, gone, keep, errs)
}

// removeAddrs is removeRoutes for addresses.
func (s *linkState) removeAddrs(gone, keep []netip.Prefix, errs []error) ([]netip.Prefix, []error) {
	return s.remove(delAddr, gone, keep, errs)
}

func (s *linkState) remove(del func(netlink.Link, string, netip.Prefix) error,
	gone, keep []netip.Prefix, errs []error) ([]netip.Prefix, []error) {
	for _, p := range gone {
		if err := del(s.link, s.name, p); err != nil {
			errs = append(errs, err)
			keep = append(keep, p)
		}
	}
	return keep, errs
}

// clearRoutes removes the routes and the pin s added.
func (s *linkState) clearRoutes() error {
	var errs []error
	s.routes, errs = s.removeRoutes(s.routes, nil, nil)
	return errors.Join(append(errs, s.clearPin())...)
}

// clear removes everything s added: routes, pin, then addresses.
func (s *linkState) clear() error {
	err := s.clearRoutes()
	var errs []error
	s.addrs, errs = s.removeAddrs(s.addrs, nil, nil)
	return errors.Join(append(errs, err)...)
}

// prefixSet returns ps without duplicates, in their order; masked first
// when mask is set.
func prefixSet(ps []netip.Prefix, mask bool) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if mask && p.IsValid() {
			p = p.Masked()
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// without returns the prefixes of a that are not in b.
func without(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}

// prefixOf is the inverse of ipNet.
func prefixOf(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if bits == 8*net.IPv4len {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, ones)
}
