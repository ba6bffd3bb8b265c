package filter

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// allowedByList is the rule of a group's allow list written out plainly:
// some entry contains dst and admits the packet. The compiled trie must
// agree with it.
func allowedByList(rules []acl.Rule, dst netip.Addr, proto uint8, port uint16, echo, l4 bool) bool {
	for _, r := range rules {
		if !r.Prefix.Contains(dst) {
			continue
		}
		switch {
		case r.Proto == acl.AnyProto:
			return true
		case !l4:
		case r.Proto == acl.ICMP && echo && (proto == packet.ProtoICMP || proto == packet.ProtoICMPv6):
			return true
		case r.Proto == acl.TCP && proto == packet.ProtoTCP, r.Proto == acl.UDP && proto == packet.ProtoUDP:
			if r.Ports == nil {
				return true
			}
			for _, pr := range r.Ports {
				if pr.First <= port && port <= pr.Last {
					return true
				}
			}
		}
	}
	return false
}

// TestCompiledPolicyAgreesWithTheAllowList draws random allow lists of
// nested and overlapping prefixes and random packets, and compares.
func TestCompiledPolicyAgreesWithTheAllowList(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func() netip.Addr { // within 10.0.0.0/14 or fd00::/110, so that entries overlap
		if rng.IntN(2) == 0 {
			return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(256))})
		}
		var a [16]byte
		a[0], a[14], a[15] = 0xfd, byte(rng.IntN(4)), byte(rng.IntN(256))
		return netip.AddrFrom16(a)
	}
	protos := []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6, 47}
	for round := range 200 {
		var rules []acl.Rule
		for range 1 + rng.IntN(12) {
			a := addr()
			bits := a.BitLen() - rng.IntN(12)
			r := acl.Rule{Prefix: netip.PrefixFrom(a, bits).Masked(), Proto: acl.Proto(rng.IntN(4))}
			if r.Proto == acl.TCP || r.Proto == acl.UDP {
				for range rng.IntN(4) {
					lo := uint16(1 + rng.IntN(100))
					r.Ports = append(r.Ports, acl.PortRange{First: lo, Last: lo + uint16(rng.IntN(20))})
				}
			}
			rules = append(rules, r)
		}
		a := &Access{table: compileRules(rules)}
		for range 500 {
			dst, proto, port := addr(), protos[rng.IntN(len(protos))], uint16(rng.IntN(130))
			echo, l4 := rng.IntN(2) == 0, rng.IntN(4) != 0
			got, want := a.permits(dst, proto, port, echo, l4), allowedByList(rules, dst, proto, port, echo, l4)
			if got != want {
				t.Fatalf("round %d: rules %v: %v proto %d port %d echo %v l4 %v: compiled %v, list %v",
					round, rules, dst, proto, port, echo, l4, got, want)
			}
		}
	}
}

func TestPortsUnionMergesRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b ports
		want ports
	}{
		{"touching ranges merge", ports{{1, 5}}, ports{{6, 9}}, ports{{1, 9}}},
		{"overlapping ranges merge", ports{{1, 5}, {20, 30}}, ports{{4, 25}}, ports{{1, 30}}},
		{"apart ranges stay apart, sorted", ports{{20, 30}}, ports{{1, 5}}, ports{{1, 5}, {20, 30}}},
		{"the top port does not wrap", ports{{65535, 65535}}, ports{{0, 0}}, ports{{0, 0}, {65535, 65535}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.a.union(tc.b)
			if len(got) != len(tc.want) {
				t.Fatalf("%v ∪ %v = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("%v ∪ %v = %v, want %v", tc.a, tc.b, got, tc.want)
				}
			}
		})
	}
}

func TestPortsHasSearchesLongSets(t *testing.T) {
	var p ports
	for i := range 20 {
		p = append(p, span{uint16(10 * i), uint16(10*i + 3)})
	}
	for port := range uint16(250) {
		want := port < 200 && port%10 <= 3
		if got := p.has(port); got != want {
			t.Fatalf("has(%d) = %v, want %v", port, got, want)
		}
	}
}
