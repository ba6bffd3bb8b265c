package filter_test

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// benchHub is a hub of 10,000 clients under a policy of 50 groups of 20
// entries each (a /24 with a few ports, an icmp entry, a whole /28 in
// turn); each client is in 3 groups, the set picked by its number.
func benchHub(b *testing.B) (*testHub, []*filter.Client) {
	g := map[string][]string{}
	for n := range 50 {
		var entries []string
		for e := range 20 {
			net := fmt.Sprintf("10.%d.%d.0", n, e)
			switch e % 3 {
			case 0:
				entries = append(entries, net+"/24 tcp/22,80,443,8000-8100")
			case 1:
				entries = append(entries, net+"/24 icmp", net+"/24 udp/53,123")
			default:
				entries = append(entries, net+"/28")
			}
		}
		g[fmt.Sprintf("g%d", n)] = entries
	}
	h := &testHub{t: b, policy: compile(b, g, nil), clients: map[string]*filter.Client{}}
	h.hub = filter.NewHub([]netip.Addr{hub4, hub6}, filter.DirectoryFunc(func(a netip.Addr) *filter.Client {
		c, _ := h.routes.Lookup(a)
		return c
	}))
	var clients []*filter.Client
	for n := range 10000 {
		l4 := netip.AddrFrom4([4]byte{100, 64, byte(n >> 8), byte(n)})
		l6 := netip.AddrFrom16([16]byte{0xfd, 0x64, 0, 8, 14: byte(n >> 8), 15: byte(n)})
		sets := []string{fmt.Sprintf("g%d", n%50), fmt.Sprintf("g%d", (n/50)%50), fmt.Sprintf("g%d", (n/7)%50)}
		c, err := h.hub.NewClient([]netip.Addr{l4, l6}, h.policy.Access(sets), 0)
		if err != nil {
			b.Fatal(err)
		}
		h.routes.Add([]netip.Prefix{netip.PrefixFrom(l4, 32), netip.PrefixFrom(l6, 128)}, c)
		clients = append(clients, c)
	}
	return h, clients
}

func BenchmarkFilter(b *testing.B) {
	h, clients := benchHub(b)
	c := clients[0] // in g0 (twice) and g0: 10.0.0.0/24 tcp/22 is allowed
	self := netip.AddrPortFrom(c.Leases()[0], 40000)
	srv := ap("10.0.0.20:443")
	out := packet.TCP(self, srv, 1, 1, packet.TCPAck, make([]byte, 1000))
	back := packet.TCP(srv, self, 1, 1, packet.TCPAck, make([]byte, 1000))
	deniedOut := packet.TCP(self, ap("10.0.0.20:25"), 1, 1, packet.TCPSyn, nil)
	lanSyn := packet.TCP(ap("10.0.0.20:5555"), self, 1, 0, packet.TCPSyn, nil)
	other := clients[1]
	c2c := packet.TCP(netip.AddrPortFrom(other.Leases()[0], 1), self, 1, 1, packet.TCPAck, nil)
	tooBig := icmpErr("10.0.0.1", out, packet.ICMPv4Unreachable, 4, 1200)
	if c.FromClient(out, 0) != pass || c.ToClient(back, 0) != pass || c.ToClient(tooBig, 0) != pass {
		b.Fatal("the benchmark's flow does not pass")
	}
	for _, bc := range []struct {
		name string
		f    func(now int64) filter.Verdict
		want filter.Verdict
	}{
		{"from a client/allowed", func(now int64) filter.Verdict { return c.FromClient(out, now) }, pass},
		{"from a client/denied", func(now int64) filter.Verdict { return c.FromClient(deniedOut, now) }, denied},
		{"to a client/flow hit", func(now int64) filter.Verdict { return c.ToClient(back, now) }, pass},
		{"to a client/ICMP error of a flow", func(now int64) filter.Verdict { return c.ToClient(tooBig, now) }, pass},
		{"to a client/flow miss from the LAN", func(now int64) filter.Verdict { return c.ToClient(lanSyn, now) }, denied},
		{"to a client/flow miss from a client", func(now int64) filter.Verdict { return c.ToClient(c2c, now) }, denied},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var now int64
			for b.Loop() {
				now += 1000
				if bc.f(now) != bc.want {
					b.Fatal("unexpected verdict")
				}
			}
		})
	}
	b.Run("from a client/new flows", func(b *testing.B) {
		// Every packet opens a flow: the table fills, then evicts.
		var pkts [][]byte
		for n := range 65536 {
			pkts = append(pkts, packet.TCP(netip.AddrPortFrom(self.Addr(), uint16(n)), ap("10.0.0.21:22"), 1, 0, packet.TCPSyn, nil))
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			c.FromClient(pkts[n%len(pkts)], int64(n)*1000)
			n++
		}
	})
	b.Run("answer", func(b *testing.B) {
		c, _ := h.hub.NewClient(c.Leases(), c.Access(), 0) // a full budget
		buf := make([]byte, filter.AnswerSize)
		b.ReportAllocs()
		var now int64
		for b.Loop() {
			now += 1e8 // the budget's pace: every call answers
			if c.Answer(buf, deniedOut, now) == 0 {
				b.Fatal("no answer")
			}
		}
	})
	b.Run("clients in parallel", func(b *testing.B) {
		// Each goroutine is one client's connection reader.
		b.ReportAllocs()
		var next atomic.Int32
		b.RunParallel(func(pb *testing.PB) {
			n := 100 + int(next.Add(1))
			cl := clients[n] // in group g(n%50): 10.(n%50).0.0/24 tcp/443 is allowed
			p := packet.TCP(netip.AddrPortFrom(cl.Leases()[0], 40000), ap(fmt.Sprintf("10.%d.0.20:443", n%50)), 1, 1, packet.TCPAck, nil)
			var now int64
			for pb.Next() {
				now += 1000
				if cl.FromClient(p, now) != pass {
					b.Error("the parallel clients' packets are not allowed")
					return
				}
			}
		})
	})
}

// BenchmarkCompile is the cost of a reload's policy for one set of groups.
func BenchmarkCompile(b *testing.B) {
	rules := map[string][]acl.Rule{}
	for n := range 50 {
		for e := range 20 {
			r, _ := acl.ParseRule(fmt.Sprintf("10.%d.%d.0/24 tcp/22,443", n, e))
			rules[fmt.Sprintf("g%d", n)] = append(rules[fmt.Sprintf("g%d", n)], r)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		filter.Compile(rules, nil).Access([]string{"g1", "g2", "g3"})
	}
}
