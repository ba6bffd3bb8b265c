package config

import (
	"encoding/binary"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// The lease a hub pushes to a client travels in the parameter exchange: one control frame of at most
// wire.MaxControlPayload (4096) bytes of JSON. leaseFixedBytes of it are kept for what a parameter
// message carries besides the lease's lists (version, node name of up to 253 bytes, boot id, MTU,
// capabilities, purpose, and every JSON key); the rest, pushedBudget, is for the lists: routes, DNS
// servers, search domains, the hub's addresses and the client's own.
const (
	leaseFixedBytes = 1024
	pushedBudget    = wire.MaxControlPayload - leaseFixedBytes

	// maxRouteJSON is the longest route as a JSON array element: an IPv6 prefix of eight four-digit
	// groups and /128 is 43 characters, 46 bytes with its quotes and comma.
	maxRouteJSON = len(`"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",`)

	// MaxPushedRoutes bounds [remote_access] routes so that routes even of the longest text fit the
	// lists' budget: 3072 / 46 = 66, rounded down to 64. Check also bounds the whole lease's size.
	MaxPushedRoutes = 64
)

// checkRemoteAccess runs the rules of a hub's [remote_access]: it listens, its pool leases at least one
// address of each family and overlaps no peer's allowed_ips, and its lease fits the parameter exchange.
func checkRemoteAccess(d *decoder, c *Config, all []allowedIP) {
	ra := c.RemoteAccess
	if ra == nil {
		return
	}
	if c.Listen == nil {
		d.r.addf("remote_access", "a hub accepts clients, so it needs %s", lookup("listen").example)
	}
	for j, p := range ra.Pool {
		key := d.elemKey("remote_access.pool", j)
		if k := firstOfFamily(ra.Pool[:j], p); k >= 0 {
			d.r.addf(key, "%s is a second %s prefix after %s; each client gets one address of each family: keep one prefix per family",
				p, family(p), ra.Pool[k])
			continue
		}
		if !leasable(p, c.Interface.Addresses) {
			larger := "fd64:8::/64"
			if p.Addr().Is4() {
				larger = "100.64.8.0/22"
			}
			d.r.addf(key, "%s has no address to lease (never leased: an IPv4 pool's first and last address, an IPv6 pool's first, the hub's own addresses); write a larger prefix, like %q",
				p, larger)
		}
		for _, a := range all {
			if a.prefix.Overlaps(p) {
				d.r.addf(key, "%s overlaps %s of peer %q (%s): leased addresses would be routed to that peer; choose a pool outside every peer's allowed_ips",
					p, a.prefix, c.Peers[a.peer].Name, a.key)
				break
			}
		}
	}
	checkLeaseSize(d, c)
}

// checkLeaseSize bounds the pushed lists by MaxPushedRoutes and by the parameter exchange's size.
func checkLeaseSize(d *decoder, c *Config) {
	ra := c.RemoteAccess
	if n := len(ra.Routes); n > MaxPushedRoutes {
		d.r.addf("remote_access.routes", "%d routes, more than the %d a lease carries (it travels in the parameter exchange, at most %d bytes); summarize them into fewer, shorter prefixes",
			n, MaxPushedRoutes, wire.MaxControlPayload)
		return
	}
	size := len(ra.Pool) * maxRouteJSON // the client's own addresses, at most this long
	for _, r := range ra.Routes {
		size += len(r.String()) + 3
	}
	for _, a := range ra.DNS {
		size += len(a.String()) + 3
	}
	for _, s := range ra.Domains {
		size += len(s) + 3
	}
	for _, a := range c.Interface.Addresses {
		size += len(a.String()) + 3
	}
	if size > pushedBudget {
		d.r.addf("remote_access.routes", "the lease pushed to each client would take %d bytes of JSON, more than the %d its lists may take in the parameter exchange (%d bytes); push fewer or shorter routes (summarize them), DNS servers or domains",
			size, pushedBudget, wire.MaxControlPayload)
	}
}

// firstOfFamily returns the index of the first prefix of list of p's family, or -1.
func firstOfFamily(list []netip.Prefix, p netip.Prefix) int {
	for i, q := range list {
		if q.Addr().Is4() == p.Addr().Is4() {
			return i
		}
	}
	return -1
}

func family(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// leasable reports whether pool has an address to lease: not an IPv4 pool's first or last address,
// not an IPv6 pool's first (the subnet-router anycast address), and none of own.
func leasable(pool netip.Prefix, own []netip.Prefix) bool {
	hostBits := pool.Addr().BitLen() - pool.Bits()
	if hostBits >= 32 {
		return true // more addresses than a node can have
	}
	first, last := pool.Addr(), pool.Addr()
	reserved := uint64(1)
	if pool.Addr().Is4() {
		reserved++
		a := first.As4()
		binary.BigEndian.PutUint32(a[:], binary.BigEndian.Uint32(a[:])|(1<<hostBits-1))
		last = netip.AddrFrom4(a)
	}
	total := uint64(1) << hostBits
	if total <= reserved {
		return false
	}
	free := total - reserved
	for _, a := range own {
		if pool.Contains(a.Addr()) && a.Addr() != first && a.Addr() != last {
			free--
		}
	}
	return free > 0
}

// checkGroups refuses groups without [remote_access] and groups named twice.
func checkGroups(d *decoder, c *Config) {
	if len(c.Groups) > 0 && c.RemoteAccess == nil && c.Interface.Mode == ModeTUN {
		d.r.addf("group", "groups are for a hub's remote-access clients; add %s, or remove the [[group]] sections",
			lookup("remote_access").example)
	}
	first := map[string]int{}
	for i, g := range c.Groups {
		if g.Name == "" {
			continue
		}
		if j, dup := first[g.Name]; dup {
			d.r.addf(indexKey("group", i)+".name", "%q is already the name of %s; merge the two allow lists into one [[group]]",
				g.Name, indexKey("group", j))
			continue
		}
		first[g.Name] = i
	}
}

// warnMetrics warns when the metrics are served beyond this host.
func warnMetrics(d *decoder, c *Config) {
	if c.Metrics == nil || c.Metrics.Listen == "" {
		return
	}
	host, _, why := splitHostPort(c.Metrics.Listen, "")
	if why != "" {
		return
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return
	}
	d.warn.addf("metrics.listen", "%s is reachable from other hosts, and the metrics name peers, clients and their addresses; listen on \"127.0.0.1:9687\" or \"[::1]:9687\", or firewall the port",
		c.Metrics.Listen)
}
