package tunnel

import (
	"cmp"
	"net/netip"
	"slices"
)

// routes maps destination prefixes to peers by longest match, over every
// peer's allowed IPs. It is immutable: a change to the peers builds a new
// one and swaps it in atomically (peerSet.rebuild). The linear scan suits
// a site's few dozen prefixes; a table of thousands (a hub's leased
// client addresses) would want a trie behind the same lookup.
type routes struct {
	v4, v6 []route // longest prefix first
}

type route struct {
	prefix netip.Prefix
	peer   *peer
}

func newRoutes(peers []*peer) *routes {
	r := &routes{}
	for _, p := range peers {
		for _, pfx := range p.policy().allowedIPs {
			if pfx.Addr().Is4() {
				r.v4 = append(r.v4, route{pfx, p})
			} else {
				r.v6 = append(r.v6, route{pfx, p})
			}
		}
	}
	longestFirst := func(a, b route) int { return cmp.Compare(b.prefix.Bits(), a.prefix.Bits()) }
	slices.SortStableFunc(r.v4, longestFirst)
	slices.SortStableFunc(r.v6, longestFirst)
	return r
}

// lookup returns the peer for dst, or nil.
func (r *routes) lookup(dst netip.Addr) *peer {
	list := r.v6
	if dst.Is4() {
		list = r.v4
	}
	for i := range list {
		if list[i].prefix.Contains(dst) {
			return list[i].peer
		}
	}
	return nil
}

// allowed reports whether src lies in one of prefixes.
func allowed(prefixes []netip.Prefix, src netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(src) {
			return true
		}
	}
	return false
}
