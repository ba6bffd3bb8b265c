package netif

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Default-route halves (docs/hub-host.md): a pushed default route is
// installed as these, which win over the host's own default route by being
// longer, and leave it in place.
var (
	default4, default6 = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	halves             = map[netip.Prefix][2]netip.Prefix{
		default4: {netip.MustParsePrefix("0.0.0.0/1"), netip.MustParsePrefix("128.0.0.0/1")},
		default6: {netip.MustParsePrefix("::/1"), netip.MustParsePrefix("8000::/1")},
	}
)

// ClientLink is the host side of a dial-in client's tunnel interface: the
// addresses and routes of the lease its hub gave it, applied as leases
// change, and a host route that keeps the hub's endpoint on the underlay
// (the pin) while a pushed route covers it (docs/hub-host.md).
//
// Its methods may be called from several goroutines; they run one at a time
// and talk netlink in the calling thread's network namespace, which must be
// the interface's. After Close, Update and Repin return ErrLinkClosed.
type ClientLink struct {
	mu     sync.Mutex
	s      linkState
	closed bool
}

// NewClientLink puts lease c on the interface name: its addresses, then
// (once they are usable) its routes through the interface. A route to
// 0.0.0.0/0 or ::/0 is installed as two halves; a route equal to the prefix
// of one of the addresses is left to the kernel, which adds it with the
// address. When a route covers hub, the hub's endpoint, a host route to hub
// is first added through the gateway and interface the host uses for it now,
// so that the tunnel's own connection stays on the underlay. A zero hub pins
// nothing.
//
// A route that exists already (on any interface) is an error: ClientLink
// never replaces or removes a route it did not add. On error nothing is left
// behind.
func NewClientLink(name string, hub netip.Addr, c LinkConfig) (*ClientLink, error) {
	link, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	if err := promoteSecondaries(link, name); err != nil {
		return nil, err
	}
	l := &ClientLink{s: linkState{name: name, link: link, hub: hub.Unmap()}}
	if err := l.s.apply(c.Addresses, clientRoutes(c)); err != nil {
		return nil, err
	}
	return l, nil
}

// Update applies a new lease live: new addresses and routes are added first
// (the pin before a route that needs it), then what c no longer has is
// removed. Addresses and routes in both leases are not touched, so traffic
// on them does not flap. When an addition fails, the previous lease stays in
// force whole and the error says why; a removal that fails is returned and
// tried again by the next Update or by Close.
func (l *ClientLink) Update(c LinkConfig) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLinkClosed
	}
	return l.s.apply(c.Addresses, clientRoutes(c))
}

// Repin points the pin at hub, looked up afresh: for a redial, after the
// underlay changed or the endpoint resolved to another address. The lookup
// ignores the interface's own routes and the old pin. An unchanged pin is
// not touched; a changed one is replaced in place (the same endpoint) or
// added before the old one is removed.
func (l *ClientLink) Repin(hub netip.Addr) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLinkClosed
	}
	return l.s.repin(hub.Unmap())
}

// Close removes everything the ClientLink added: routes, pin, addresses;
// nothing else. Close may be called more than once; a later call retries
// what an earlier one could not remove.
func (l *ClientLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return l.s.clear()
}

// clientRoutes is c.Routes with defaults split into halves and the prefixes
// of c's own addresses left out.
func clientRoutes(c LinkConfig) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.Routes {
		if h, ok := halves[p.Masked()]; ok {
			out = append(out, h[:]...)
			continue
		}
		if !ownPrefix(c.Addresses, p) {
			out = append(out, p)
		}
	}
	return out
}

// ownPrefix reports whether p is the network of one of addrs.
func ownPrefix(addrs []netip.Prefix, p netip.Prefix) bool {
	for _, a := range addrs {
		if a.Masked() == p.Masked() {
			return true
		}
	}
	return false
}

// ipv4DevconfPromoteSecondaries is IPV4_DEVCONF_PROMOTE_SECONDARIES
// (include/uapi/linux/ip.h).
const ipv4DevconfPromoteSecondaries = 20

// promoteSecondaries turns net.ipv4.conf.NAME.promote_secondaries on, over
// netlink (/proc/sys may be read-only under systemd): a lease that moves the
// IPv4 address within its prefix adds the new address, a secondary, before
// removing the old one, and without this the kernel would remove the new
// one with the old.
func promoteSecondaries(link netlink.Link, name string) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(link.Attrs().Index)
	req.AddData(msg)
	spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
	conf := spec.AddRtAttr(unix.AF_INET, nil).AddRtAttr(unix.IFLA_INET_CONF, nil)
	conf.AddRtAttr(ipv4DevconfPromoteSecondaries, nl.Uint32Attr(1))
	req.AddData(spec)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("set promote_secondaries on %s: %w", name, err)
	}
	return nil
}
