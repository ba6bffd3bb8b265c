package filter_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/route"
)

// Address plan (docs of the test topology): the hub's tunnel addresses and
// the client pool 100.64.8.0/22 and fd64:8::/64, site LAN 10.1.0.0/24 and
// fd01::/64, a second site 10.2.0.0/24.
var (
	hub4 = netip.MustParseAddr("100.64.8.1")
	hub6 = netip.MustParseAddr("fd64:8::1")
)

// groups is the policy of the tests.
var groups = map[string][]string{
	"admins": {"10.1.0.0/24", "fd01::/64"},
	"web":    {"10.1.0.0/24 tcp/80,443", "fd01::/64 tcp/80,443", "10.1.0.53/32 udp/53"},
	"ping":   {"10.1.0.0/24 icmp", "fd01::/64 icmp"},
	"ssh":    {"100.64.8.0/22 tcp/22", "fd64:8::/64 tcp/22"},
	"nested": {"10.0.0.0/8 tcp/22", "10.1.0.0/24 tcp/443", "10.1.0.0/24 udp/5000-5100"},
}

// The clients of the tests: name, groups, leases.
var people = []struct {
	name   string
	groups []string
	leases []netip.Addr
}{
	{"alice", []string{"web"}, addrs("100.64.8.10", "fd64:8::10")},
	{"bob", []string{"admins"}, addrs("100.64.8.11", "fd64:8::11")},
	{"carol", []string{"ssh", "ping"}, addrs("100.64.8.12", "fd64:8::12")},
	{"dave", []string{"nested", "web"}, addrs("100.64.8.13", "fd64:8::13")},
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func compile(t testing.TB, g map[string][]string, common []acl.Rule) *filter.Policy {
	t.Helper()
	rules := map[string][]acl.Rule{}
	for name, entries := range g {
		for _, e := range entries {
			r, err := acl.ParseRule(e)
			if err != nil {
				t.Fatalf("group %s: %v", name, err)
			}
			rules[name] = append(rules[name], r)
		}
	}
	return filter.Compile(rules, common)
}

// testHub is a hub with the clients above, found through an
// internal/route table as the tunnel's would, and a clock.
type testHub struct {
	t       testing.TB
	routes  route.Table[*filter.Client]
	hub     *filter.Hub
	policy  *filter.Policy
	clients map[string]*filter.Client
	now     int64
}

func newTestHub(t testing.TB) *testHub {
	h := &testHub{t: t, policy: compile(t, groups, nil), clients: map[string]*filter.Client{}, now: int64(time.Hour)}
	h.hub = filter.NewHub([]netip.Addr{hub4, hub6}, filter.DirectoryFunc(func(a netip.Addr) *filter.Client {
		c, _ := h.routes.Lookup(a)
		return c
	}))
	for _, p := range people {
		c, err := h.hub.NewClient(p.leases, h.policy.Access(p.groups), h.now)
		if err != nil {
			t.Fatalf("NewClient %s: %v", p.name, err)
		}
		var hosts []netip.Prefix
		for _, l := range p.leases {
			hosts = append(hosts, netip.PrefixFrom(l, l.BitLen()))
		}
		h.routes.Add(hosts, c)
		h.clients[p.name] = c
	}
	return h
}

func (h *testHub) client(name string) *filter.Client {
	c := h.clients[name]
	if c == nil {
		h.t.Fatalf("no client %s", name)
	}
	return c
}

// step is one packet through the filter: from a client (out) or to it.
type step struct {
	wait time.Duration // the clock moves on first
	who  string
	out  bool
	pkt  []byte
	want filter.Verdict
}

func from(who string, pkt []byte, want filter.Verdict) step {
	return step{who: who, out: true, pkt: pkt, want: want}
}
func to(who string, pkt []byte, want filter.Verdict) step {
	return step{who: who, pkt: pkt, want: want}
}

func (s step) after(d time.Duration) step { s.wait = d; return s }

func (h *testHub) run(t *testing.T, steps []step) {
	t.Helper()
	for n, s := range steps {
		h.now += int64(s.wait)
		c := h.client(s.who)
		var got filter.Verdict
		dir := "to"
		if s.out {
			got, dir = c.FromClient(s.pkt, h.now), "from"
		} else {
			got = c.ToClient(s.pkt, h.now)
		}
		if got != s.want {
			t.Fatalf("step %d, %s %s: %s, want %s", n+1, dir, s.who, got, s.want)
		}
	}
}

// Packet shorthands: addresses as "ip:port" or "ip".
func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
func ip(s string) netip.Addr     { return netip.MustParseAddr(s) }

func syn(src, dst string) []byte { return packet.TCP(ap(src), ap(dst), 1, 0, packet.TCPSyn, nil) }
func synAck(src, dst string) []byte {
	return packet.TCP(ap(src), ap(dst), 1, 2, packet.TCPSyn|packet.TCPAck, nil)
}
func ack(src, dst string) []byte {
	return packet.TCP(ap(src), ap(dst), 2, 2, packet.TCPAck, []byte("data"))
}
func fin(src, dst string) []byte {
	return packet.TCP(ap(src), ap(dst), 2, 2, packet.TCPFin|packet.TCPAck, nil)
}
func rst(src, dst string) []byte { return packet.TCP(ap(src), ap(dst), 2, 0, packet.TCPRst, nil) }
func udp(src, dst string) []byte { return packet.UDP(ap(src), ap(dst), []byte("datagram")) }
func ping(src, dst string, id uint16) []byte {
	return packet.ICMPEcho(ip(src), ip(dst), id, 1, []byte("ping"))
}

func pong(src, dst string, id uint16) []byte {
	typ := uint8(packet.ICMPv4EchoReply)
	if !ip(src).Is4() {
		typ = packet.ICMPv6EchoReply
	}
	body := make([]byte, 8)
	binary.BigEndian.PutUint16(body, id)
	return packet.ICMP(ip(src), ip(dst), typ, 0, body)
}

// icmpErr returns an ICMP error of type typ and code from src quoting q,
// with rest as the 4-byte word after the checksum (the MTU of a "too big").
func icmpErr(src string, q []byte, typ, code uint8, rest uint32) []byte {
	i, err := packet.Parse(q)
	if err != nil {
		panic(err)
	}
	body := binary.BigEndian.AppendUint32(nil, rest)
	return packet.ICMP(ip(src), i.Src, typ, code, append(body, q...))
}

// withProto returns a copy of the IPv4 packet p with another protocol
// number (the header checksum is not the filter's concern).
func withProto(p []byte, proto uint8) []byte {
	c := append([]byte(nil), p...)
	c[9] = proto
	return c
}

// withDstOpts inserts an 8-byte destination options header into the IPv6
// packet p, before its transport header.
func withDstOpts(p []byte) []byte {
	out := append([]byte(nil), p[:packet.IPv6HdrLen]...)
	out = append(out, p[6], 0, 1, 4, 0, 0, 0, 0) // next header, length 0, a PadN option of 4 bytes
	out = append(out, p[packet.IPv6HdrLen:]...)
	out[6] = packet.ProtoDstOpts
	binary.BigEndian.PutUint16(out[4:], uint16(len(out)-packet.IPv6HdrLen))
	return out
}
