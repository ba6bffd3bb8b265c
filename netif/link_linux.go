package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Configure gives the interface name the addresses of c, sets it up and
// routes each of c.Routes through it, in the calling thread's network
// namespace. IPv6 addresses are added with IFA_F_NODAD, and Configure
// returns only once the kernel treats every address as local (IPv6 does
// that asynchronously after the link goes up). A route that already exists (on any interface) is an error:
// Configure never replaces a route it did not add.
//
// On error Configure undoes what it did before returning. On success undo
// removes the routes Configure added; the addresses and the link go away
// with the device. undo may be called more than once.
func Configure(name string, c LinkConfig) (undo func() error, err error) {
	link, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	s := &linkState{name: name, link: link}
	if err := s.apply(c.Addresses, c.Routes); err != nil {
		return nil, err
	}
	return sync.OnceValue(s.clearRoutes), nil
}

// AddRoute routes p through the interface name (for a reload that adds a
// peer). A route for p that already exists is an error.
func AddRoute(name string, p netip.Prefix) error {
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	return addRoute(link, name, p)
}

// DelRoute removes the route for p through the interface name (for a
// reload that removes a peer). A route or interface that is already gone
// is not an error.
func DelRoute(name string, p netip.Prefix) error {
	link, err := linkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	return delRoute(link, name, p)
}

// addrWait bounds how long Configure waits for new addresses to be usable.
const addrWait = 5 * time.Second

// waitUsable waits until the kernel routes each address of addrs as local,
// polling: for IPv6 a kernel work item installs the local route some
// microseconds to milliseconds after the link goes up.
func waitUsable(name string, addrs []netip.Prefix) error {
	deadline := time.Now().Add(addrWait)
	for _, p := range addrs {
		for !isLocal(p.Addr()) {
			if time.Now().After(deadline) {
				return fmt.Errorf("address %s on %s: not usable (no local route) within %v", p, name, addrWait)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

func isLocal(a netip.Addr) bool {
	routes, err := netlink.RouteGet(a.AsSlice())
	return err == nil && len(routes) > 0 && routes[0].Type == unix.RTN_LOCAL
}

func linkByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return link, nil
}

func addAddr(link netlink.Link, name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("add address to %s: invalid prefix %v", name, p)
	}
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := netlink.AddrAdd(link, a); err != nil {
		return fmt.Errorf("add address %s to %s: %w", p, name, err)
	}
	return nil
}

func delAddr(link netlink.Link, name string, p netip.Prefix) error {
	err := netlink.AddrDel(link, &netlink.Addr{IPNet: ipNet(p)})
	if err != nil && !gone(err) {
		return fmt.Errorf("remove address %s from %s: %w", p, name, err)
	}
	return nil
}

// setUp sets the link up, and registers setting it down again when it was
// down before (as the kernel says now: link may be an old copy).
func setUp(link netlink.Link, name string, rb *rollback) error {
	now, err := netlink.LinkByIndex(link.Attrs().Index)
	if err != nil {
		return fmt.Errorf("look up interface %s: %w", name, err)
	}
	if now.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	rb.add(func() error {
		if err := netlink.LinkSetDown(link); err != nil && !gone(err) {
			return fmt.Errorf("set %s down: %w", name, err)
		}
		return nil
	})
	return nil
}

func addRoute(link netlink.Link, name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("add route via %s: invalid prefix %v", name, p)
	}
	err := netlink.RouteAdd(route(link, p))
	switch {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("add route %s via %s: a route for %s already exists (see `ip route show %s`): %w",
			p.Masked(), name, p.Masked(), p.Masked(), err)
	case err != nil:
		return fmt.Errorf("add route %s via %s: %w", p.Masked(), name, err)
	}
	return nil
}

func delRoute(link netlink.Link, name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("remove route via %s: invalid prefix %v", name, p)
	}
	err := netlink.RouteDel(route(link, p))
	if err != nil && !gone(err) {
		return fmt.Errorf("remove route %s via %s: %w", p.Masked(), name, err)
	}
	return nil
}

// routeProto is the rtm_protocol of every route tlsvpn adds (`ip route show
// proto 116`): the kernel does not interpret it; the underlay watch skips
// such routes, and it tells tlsvpn's routes from others'.
const routeProto = 116

// route is a static route for p through link. IPv4 routes get link scope,
// as `ip route add P dev NAME` gives them.
func route(link netlink.Link, p netip.Prefix) *netlink.Route {
	r := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       ipNet(p.Masked()),
		Protocol:  routeProto,
	}
	if p.Addr().Is4() {
		r.Scope = netlink.SCOPE_LINK
	}
	return r
}

func ipNet(p netip.Prefix) *net.IPNet {
	bits := 128
	if p.Addr().Is4() {
		bits = 32
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// gone reports errors that mean the thing to remove no longer exists.
func gone(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENODEV) ||
		errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT)
}

// setTxQueueLen sets the transmit queue length of the interface name.
func setTxQueueLen(name string, n int) error {
	link, err := linkByName(name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetTxQLen(link, n); err != nil {
		return fmt.Errorf("set transmit queue length of %s to %d: %w", name, n, err)
	}
	return nil
}

// rollback is a stack of undo steps, run newest first.
type rollback []func() error

func (r *rollback) add(f func() error) { *r = append(*r, f) }

// run runs every step and joins their errors; a second run does nothing.
func (r *rollback) run() error {
	var errs []error
	for i := len(*r) - 1; i >= 0; i-- {
		errs = append(errs, (*r)[i]())
	}
	*r = nil
	return errors.Join(errs...)
}
