package filter_test

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

func TestReload(t *testing.T) {
	const alice, web, mail = "100.64.8.10:40000", "10.1.0.20:443", "10.1.0.25:25"
	narrower := map[string][]string{"web": {"10.1.0.0/24 tcp/25"}}
	wider := map[string][]string{"web": {"10.1.0.0/24 tcp"}}
	for _, tc := range []struct {
		name   string
		groups map[string][]string
		want   filter.Verdict
	}{
		{"a reload that takes a right away stops its flows both ways at once", narrower, denied},
		{"a reload that keeps a right keeps its flows", wider, pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(t)
			a := h.client("alice")
			h.run(t, []step{from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass)})
			a.SetAccess(compile(t, tc.groups, nil).Access([]string{"web"}))
			h.run(t, []step{
				to("alice", ack(web, alice), tc.want), from("alice", ack(alice, web), tc.want),
				from("alice", syn(alice, mail), pass), to("alice", synAck(mail, alice), pass),
			})
		})
	}
}

func TestPolicyAccess(t *testing.T) {
	p := compile(t, groups, nil)
	for _, tc := range []struct {
		name   string
		groups []string
		want   []string
	}{
		{"unknown groups are ignored", []string{"web", "nobody"}, []string{"web"}},
		{"the order and repetition of groups does not matter", []string{"ssh", "ping", "ssh"}, []string{"ping", "ssh"}},
		{"no known group gives no access", []string{"nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := p.Access(tc.groups)
			if tc.want == nil {
				if a != nil {
					t.Fatalf("Access(%q) = %q, want nil", tc.groups, a.Groups())
				}
				return
			}
			if a == nil || fmt.Sprint(a.Groups()) != fmt.Sprint(tc.want) {
				t.Fatalf("Access(%q) has groups %v, want %q", tc.groups, a, tc.want)
			}
		})
	}
	t.Run("clients with the same groups share one access", func(t *testing.T) {
		if p.Access([]string{"ssh", "ping"}) != p.Access([]string{"ping", "ssh"}) {
			t.Fatal("two accesses for one set of groups")
		}
	})
}

func TestDNSRulesOpenPort53ToTheServersForEveryClient(t *testing.T) {
	h := newTestHub(t)
	p := compile(t, groups, filter.DNSRules(addrs("10.9.0.53", "fd09::53")))
	c, err := h.hub.NewClient(addrs("100.64.8.20", "fd64:8::20"), p.Access([]string{"ping"}), h.now)
	if err != nil {
		t.Fatal(err)
	}
	h.clients["erin"] = c
	h.run(t, []step{
		from("erin", udp("100.64.8.20:5000", "10.9.0.53:53"), pass),
		from("erin", syn("[fd64:8::20]:5000", "[fd09::53]:53"), pass),
		from("erin", udp("100.64.8.20:5000", "10.9.0.53:54"), denied),
		from("erin", udp("100.64.8.20:5000", "10.9.0.54:53"), denied),
	})
}

func TestNewClientRefusesBadLeases(t *testing.T) {
	hub := filter.NewHub(nil, nil)
	for _, tc := range []struct {
		name   string
		leases []netip.Addr
	}{
		{"no lease", nil},
		{"two IPv4 leases", addrs("100.64.8.10", "100.64.8.11")},
		{"an invalid address", []netip.Addr{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := hub.NewClient(tc.leases, nil, 0); !errors.Is(err, filter.ErrLeases) {
				t.Fatalf("NewClient = %v, want ErrLeases", err)
			}
		})
	}
	t.Run("one family alone is enough", func(t *testing.T) {
		c, err := hub.NewClient(addrs("fd64:8::10"), nil, 0)
		if err != nil || fmt.Sprint(c.Leases()) != "[fd64:8::10]" {
			t.Fatalf("NewClient = %v, %v", c, err)
		}
		if v := c.FromClient(syn("100.64.8.10:1", "10.1.0.20:443"), 0); v != spoofed {
			t.Fatalf("an IPv4 packet from a client without an IPv4 lease: %s, want %s", v, spoofed)
		}
	})
}

// flood opens n UDP flows from bob (whole LAN access) to distinct ports of
// 10.1.0.0/24 hosts, starting at port base.
func flood(h *testHub, n, base int) {
	bob := h.client("bob")
	for k := range n {
		p := packet.UDP(ap("100.64.8.11:1000"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(k % 250)}), uint16(base+k/250)), nil)
		if v := bob.FromClient(p, h.now); v != pass {
			h.t.Fatalf("flow %d: %s", k, v)
		}
	}
}

func TestFlowTableIsBoundedAndKeepsAnsweredFlows(t *testing.T) {
	h := newTestHub(t)
	bob := h.client("bob")
	const kept = 200
	for k := range kept {
		out := packet.UDP(ap("100.64.8.11:2000"), netip.AddrPortFrom(ip("10.1.0.30"), uint16(1+k)), nil)
		back := packet.UDP(netip.AddrPortFrom(ip("10.1.0.30"), uint16(1+k)), ap("100.64.8.11:2000"), nil)
		if bob.FromClient(out, h.now) != pass || bob.ToClient(back, h.now) != pass {
			t.Fatalf("answered flow %d did not open", k)
		}
	}
	h.now += int64(time.Second)
	flood(h, 4*filter.MaxFlows, 10000) // four times the table's size, none answered
	if n := filter.FlowSlots(bob); n != filter.MaxFlows {
		t.Errorf("the table has %d slots, want it grown to its bound %d", n, filter.MaxFlows)
	}
	for k := range kept {
		back := packet.UDP(netip.AddrPortFrom(ip("10.1.0.30"), uint16(1+k)), ap("100.64.8.11:2000"), nil)
		if v := bob.ToClient(back, h.now); v != pass {
			t.Fatalf("answered flow %d was evicted for unanswered ones (%s)", k, v)
		}
	}
	// The newest flow is there.
	last := 4*filter.MaxFlows - 1
	newest := packet.UDP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(last % 250)}), uint16(10000+last/250)), ap("100.64.8.11:1000"), nil)
	if v := bob.ToClient(newest, h.now); v != pass {
		t.Errorf("the newest flow: %s, want pass", v)
	}
}

func TestFilterAllocatesNothingPerPacket(t *testing.T) {
	h := newTestHub(t)
	alice := h.client("alice")
	out, back := syn("100.64.8.10:40000", "10.1.0.20:443"), synAck("10.1.0.20:443", "100.64.8.10:40000")
	lan := syn("10.1.0.20:443", "100.64.8.10:40001")
	buf := make([]byte, filter.AnswerSize)
	alice.FromClient(out, h.now)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"an allowed packet from a client", func() { alice.FromClient(out, h.now) }},
		{"a denied packet from a client", func() { alice.FromClient(lan, h.now) }},
		{"a reply toward a client", func() { alice.ToClient(back, h.now) }},
		{"a denied packet toward a client", func() { alice.ToClient(lan, h.now) }},
		{"an answer", func() { h.now += int64(time.Second); alice.Answer(buf, lan, h.now) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
				t.Fatalf("%v allocations per packet", n)
			}
		})
	}
}

// TestConcurrentReadersSeeStableFlows runs a client's ingress (opening
// ever new flows, so its table grows and then evicts) against two readers
// of its replies: the flows opened before, kept answered, must pass every
// time. Run with -race.
func TestConcurrentReadersSeeStableFlows(t *testing.T) {
	h := newTestHub(t)
	bob := h.client("bob")
	var mu sync.Mutex // guards only the test's clock
	now := h.now
	clock := func() int64 { mu.Lock(); defer mu.Unlock(); return now }
	const stable = 32
	var outs, backs [][]byte
	for k := range stable {
		outs = append(outs, packet.TCP(ap("100.64.8.11:3000"), netip.AddrPortFrom(ip("10.1.0.40"), uint16(1+k)), 1, 1, packet.TCPAck, nil))
		backs = append(backs, packet.TCP(netip.AddrPortFrom(ip("10.1.0.40"), uint16(1+k)), ap("100.64.8.11:3000"), 1, 1, packet.TCPAck, nil))
		bob.FromClient(outs[k], now)
		bob.ToClient(backs[k], now)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				if v := bob.ToClient(backs[n%stable], clock()); v != pass {
					errs <- fmt.Errorf("a reply of stable flow %d: %s", n%stable, v)
					return
				}
			}
		})
	}
	for k := range 3 * filter.MaxFlows {
		p := packet.UDP(ap("100.64.8.11:1000"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(k % 250)}), uint16(5000+k/250)), nil)
		bob.FromClient(p, now)
		if k%100 == 0 {
			bob.FromClient(outs[(k/100)%stable], now) // the stable flows stay in use
			mu.Lock()
			now += int64(time.Second)
			mu.Unlock()
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
