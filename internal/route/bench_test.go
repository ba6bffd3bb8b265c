package route_test

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/route"
)

// The benchmarks' table: 10,000 clients with a /32 and a /128 each (a pool
// of 100.64.0.0/18 and fd64:8::/64) and 100 site prefixes (/24 and /64).
const (
	benchClients = 10000
	benchSites   = 100
)

type peer struct{ name string }

func benchLease(n int) []netip.Prefix {
	return []netip.Prefix{
		netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(n >> 8), byte(n)}), 32),
		netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x64, 0, 8, 14: byte(n >> 8), 15: byte(n)}), 128),
	}
}

func benchSite(n int) []netip.Prefix {
	return []netip.Prefix{
		netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n), 0, 0}), 24),
		netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, byte(n)}), 64),
	}
}

func benchTable() (*route.Table[*peer], []netip.Addr) {
	tbl := new(route.Table[*peer])
	var dsts []netip.Addr
	for n := range benchSites {
		p := benchSite(n)
		tbl.Add(p, &peer{"site"})
		dsts = append(dsts, p[0].Addr().Next(), p[1].Addr().Next())
	}
	for n := range benchClients {
		p := benchLease(n)
		tbl.Add(p, &peer{"client"})
		dsts = append(dsts, p[0].Addr(), p[1].Addr())
	}
	return tbl, dsts
}

// linear is the longest-prefix scan the tunnel used before this package
// (a sorted list, longest first), kept here as the baseline.
type linear struct{ v4, v6 []linearRoute }

type linearRoute struct {
	prefix netip.Prefix
	peer   *peer
}

func (r *linear) lookup(dst netip.Addr) *peer {
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

func BenchmarkLookup(b *testing.B) {
	tbl, dsts := benchTable()
	var lin linear
	for p, v := range tbl.All() {
		if p.Addr().Is4() {
			lin.v4 = append(lin.v4, linearRoute{p, v})
		} else {
			lin.v6 = append(lin.v6, linearRoute{p, v})
		}
	}
	longestFirst := func(a, b linearRoute) int { return cmp.Compare(b.prefix.Bits(), a.prefix.Bits()) }
	slices.SortStableFunc(lin.v4, longestFirst)
	slices.SortStableFunc(lin.v6, longestFirst)
	for _, family := range []struct {
		name string
		dsts []netip.Addr
	}{
		{"IPv4", slices.DeleteFunc(slices.Clone(dsts), netip.Addr.Is6)},
		{"IPv6", slices.DeleteFunc(slices.Clone(dsts), netip.Addr.Is4)},
	} {
		dsts := family.dsts
		b.Run("trie/"+family.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, ok := tbl.Lookup(dsts[n%len(dsts)]); !ok {
					b.Fatal("no route")
				}
				n += 7919 // a prime: spread over the table
			}
		})
		b.Run("linear/"+family.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if lin.lookup(dsts[n%len(dsts)]) == nil {
					b.Fatal("no route")
				}
				n += 7919
			}
		})
	}
}

// BenchmarkConnect is the cost of one client's connection and
// disconnection (Add and Remove of its two leases) in a table of 10,000
// clients and 100 sites.
func BenchmarkConnect(b *testing.B) {
	tbl, _ := benchTable()
	p, v := benchLease(benchClients), &peer{"new"}
	b.ReportAllocs()
	for b.Loop() {
		tbl.Add(p, v)
		tbl.Remove(p, v)
	}
}

// BenchmarkReset is a full rebuild of the table, what a reload costs.
func BenchmarkReset(b *testing.B) {
	tbl, _ := benchTable()
	snapshot := map[netip.Prefix]*peer{}
	for p, v := range tbl.All() {
		snapshot[p] = v
	}
	b.ReportAllocs()
	for b.Loop() {
		tbl.Reset(func(yield func(netip.Prefix, *peer) bool) {
			for p, v := range snapshot {
				if !yield(p, v) {
					return
				}
			}
		})
	}
}
