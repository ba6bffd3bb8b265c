package route_test

import (
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/route"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestLookupTakesTheLongestMatch(t *testing.T) {
	var tbl route.Table[string]
	tbl.Add([]netip.Prefix{pfx("10.0.0.0/8"), pfx("fd00::/8")}, "site")
	tbl.Add([]netip.Prefix{pfx("10.1.0.0/24")}, "lan")
	tbl.Add([]netip.Prefix{pfx("10.1.0.7/32"), pfx("fd00::7/128")}, "client")
	for _, tc := range []struct {
		name string
		a    string
		want string
	}{
		{"a host route wins over its subnet", "10.1.0.7", "client"},
		{"a subnet wins over its supernet", "10.1.0.8", "lan"},
		{"the supernet takes the rest", "10.200.0.1", "site"},
		{"IPv6 routes are apart from IPv4's", "fd00::7", "client"},
		{"an IPv4-mapped address is looked up as IPv4", "::ffff:10.1.0.7", "client"},
		{"no route is no value", "192.0.2.1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tbl.Lookup(addr(tc.a))
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("Lookup(%s) = %q, %v; want %q", tc.a, got, ok, tc.want)
			}
		})
	}
}

func TestAZeroTableIsEmpty(t *testing.T) {
	var tbl route.Table[*int]
	if v, ok := tbl.Lookup(addr("10.0.0.1")); v != nil || ok || tbl.Len() != 0 {
		t.Fatalf("a zero table found %v, %v and has %d entries", v, ok, tbl.Len())
	}
	tbl.Remove([]netip.Prefix{pfx("10.0.0.0/8")}, nil)
}

func TestRemoveLeavesAPrefixThatMapsToAnotherValue(t *testing.T) {
	var tbl route.Table[string]
	lease := []netip.Prefix{pfx("100.64.8.10/32"), pfx("fd64:8::10/128")}
	tbl.Add(lease, "old connection")
	tbl.Add(lease, "new connection") // the client reconnected
	tbl.Remove(lease, "old connection")
	if got, _ := tbl.Lookup(addr("100.64.8.10")); got != "new connection" {
		t.Fatalf("after the old connection's clean-up the lease maps to %q", got)
	}
	tbl.Remove(lease, "new connection")
	if tbl.Len() != 0 {
		t.Fatalf("%d entries left", tbl.Len())
	}
}

func TestHostBitsAreCleared(t *testing.T) {
	var tbl route.Table[int]
	tbl.Add([]netip.Prefix{pfx("10.1.0.99/24")}, 1)
	if v, ok := tbl.Get(pfx("10.1.0.0/24")); !ok || v != 1 {
		t.Fatalf("Get(10.1.0.0/24) = %v, %v", v, ok)
	}
	tbl.Remove([]netip.Prefix{pfx("10.1.0.5/24")}, 1)
	if tbl.Len() != 0 {
		t.Fatal("Remove with host bits did not remove the prefix")
	}
}

func TestResetReplacesEverything(t *testing.T) {
	var tbl route.Table[string]
	tbl.Add([]netip.Prefix{pfx("10.1.0.0/24")}, "old")
	tbl.Reset(maps.All(map[netip.Prefix]string{pfx("10.2.0.0/24"): "b", pfx("fd02::/64"): "b6"}))
	got := map[string]string{}
	for p, v := range tbl.All() {
		got[p.String()] = v
	}
	if fmt.Sprint(got) != "map[10.2.0.0/24:b fd02::/64:b6]" {
		t.Fatalf("after Reset: %v", got)
	}
}

// TestReadersNeverSeeHalfAChange adds and removes clients' two leases
// while a reader looks them up in snapshots: it finds both leases of a
// client or neither, never one (Add and Remove publish at once). Run with
// -race.
func TestReadersNeverSeeHalfAChange(t *testing.T) {
	var tbl route.Table[int]
	leases := func(n int) []netip.Prefix {
		return []netip.Prefix{
			netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, 8, byte(n)}), 32),
			netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x64, 0, 8, 15: byte(n)}), 128),
		}
	}
	done := make(chan struct{})
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			l, snap := leases(n%50), tbl.Snapshot()
			_, ok4 := snap.Lookup(l[0].Addr())
			_, ok6 := snap.Lookup(l[1].Addr())
			if ok4 != ok6 {
				errs <- fmt.Errorf("client %d: its IPv4 lease is routed %v, its IPv6 lease %v", n%50, ok4, ok6)
				return
			}
		}
	})
	for round := range 2000 {
		n := round % 50
		if round/50%2 == 0 {
			tbl.Add(leases(n), n)
		} else {
			tbl.Remove(leases(n), n)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}
