package filter_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// A fuzz input is a run of packets through the test hub, each written as a
// control byte (bits 0-1: alice, bob, carol or dave; bit 2: sent by the
// client, else on its way to it; bits 3-7: n, the clock moves n² seconds
// first), a 2-byte big-endian length and the packet.
func record(who int, out bool, wait int, pkt []byte) []byte {
	ctl := byte(who) | byte(wait)<<3
	if out {
		ctl |= 4
	}
	return append(binary.BigEndian.AppendUint16([]byte{ctl}, uint16(len(pkt))), pkt...)
}

// model is what the fuzz target holds the filter to, kept apart from the
// filter's own state: every flow a client ever sent on, with no expiry and
// no bound, is a superset of what the filter remembers, so "passed toward
// a client" must imply "the model knows why".
type model struct {
	sent   map[string]bool // client/tuple of what each client sent and was let through
	firsts map[string]bool // client/source/id of first fragments let through to it
}

// tuple names the flow of packet i from the side of the client whose
// address is local: sent says i goes from local.
func tuple(i *packet.Info, sent bool) string {
	remote, lport, rport := i.Dst, i.SrcPort, i.DstPort
	if !sent {
		remote, lport, rport = i.Src, i.DstPort, i.SrcPort
	}
	switch {
	case i.EchoRequest() || i.EchoReply():
		// The opener of an echo flow sends requests and gets replies.
		return fmt.Sprintf("%v echo %d opener %v", remote, i.EchoID, sent == i.EchoRequest())
	case i.HasL4 && (i.Proto == packet.ProtoTCP || i.Proto == packet.ProtoUDP):
		return fmt.Sprintf("%v %d %d %d", remote, i.Proto, lport, rport)
	}
	return fmt.Sprintf("%v %d", remote, i.Proto)
}

func FuzzFilter(f *testing.F) {
	const alice, web, dns = "100.64.8.10:40000", "10.1.0.20:443", "10.1.0.53:53"
	big := packet.UDP(ap(dns), ap(alice), make([]byte, 2000))
	seeds := [][]byte{
		append(record(0, true, 0, syn(alice, web)), record(0, false, 1, synAck(web, alice))...),
		append(record(0, true, 0, udp(alice, dns)), record(0, false, 6, udp(dns, alice))...),
		append(record(0, true, 0, ack(alice, web)), record(0, false, 0, icmpErr("10.1.0.1", ack(alice, web), 3, 4, 1200))...),
		append(record(2, true, 0, syn("100.64.8.12:4000", "100.64.8.10:22")), record(0, false, 0, syn("100.64.8.12:4000", "100.64.8.10:22"))...),
		append(record(2, true, 0, ping("fd64:8::12", "fd01::20", 9)), record(2, false, 0, pong("fd01::20", "fd64:8::12", 9))...),
		record(1, true, 0, withDstOpts(syn("[fd64:8::11]:5", "[fd01::20]:22"))),
		// What must be dropped, each after the flow it imitates.
		append(record(2, true, 0, ping("100.64.8.12", "10.1.0.20", 9)), record(2, false, 0, ping("10.1.0.20", "100.64.8.12", 9))...),
		append(record(0, true, 0, syn(alice, web)), record(0, false, 0, syn(web, "100.64.8.10:40001"))...),
		append(record(0, true, 0, syn(alice, web)), record(0, false, 0, icmpErr("10.1.0.1", syn(alice, "10.1.0.20:80"), 3, 4, 1200))...),
		append(record(0, true, 0, udp(alice, dns)), record(0, false, 0, packet.Fragments(big, 1280, 4)[1])...),
		append(record(0, true, 0, syn(alice, "100.64.8.12:22")), record(2, false, 0, syn(alice, "100.64.8.12:22"))...),
		append(record(0, true, 0, udp(alice, dns)), record(0, false, 5, udp(dns, alice))...),
	}
	frag := record(0, true, 0, udp(alice, dns))
	for _, p := range packet.Fragments(big, 1280, 3) {
		frag = append(frag, record(0, false, 0, p)...)
	}
	seeds = append(seeds, frag)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newTestHub(t)
		rules := map[string][]acl.Rule{}
		for _, p := range people {
			for _, g := range p.groups {
				for _, e := range groups[g] {
					r, _ := acl.ParseRule(e)
					rules[p.name] = append(rules[p.name], r)
				}
			}
		}
		m := &model{sent: map[string]bool{}, firsts: map[string]bool{}}
		buf := make([]byte, filter.AnswerSize)
		for len(data) >= 3 {
			ctl, n := data[0], int(binary.BigEndian.Uint16(data[1:]))
			data = data[3:]
			pkt := data[:min(n, len(data))]
			data = data[len(pkt):]
			h.now += int64(time.Duration(ctl>>3) * time.Duration(ctl>>3) * time.Second)
			p := people[ctl&3]
			c := h.client(p.name)
			if ctl&4 != 0 {
				v := c.FromClient(pkt, h.now)
				m.checkFrom(t, h, p.name, rules[p.name], pkt, v)
			} else {
				v := c.ToClient(pkt, h.now)
				m.checkTo(t, h, p.name, pkt, v)
			}
			if ans := c.Answer(buf, pkt, h.now); ans > 0 {
				checkAnswerOf(t, buf[:ans], pkt)
			}
		}
	})
}

// owner returns the name of the client leasing a, or "".
func owner(a netip.Addr) string {
	for _, p := range people {
		for _, l := range p.leases {
			if l == a {
				return p.name
			}
		}
	}
	return ""
}

func leaseOf(name string, version uint8) netip.Addr {
	for _, p := range people {
		if p.name == name {
			for _, l := range p.leases {
				if l.Is4() == (version == 4) {
					return l
				}
			}
		}
	}
	return netip.Addr{}
}

func (m *model) checkFrom(t *testing.T, h *testHub, who string, rules []acl.Rule, pkt []byte, v filter.Verdict) {
	i, err := packet.Parse(pkt)
	switch {
	case err != nil:
		if v != filter.DropMalformed {
			t.Fatalf("a packet that does not parse (%v) from %s: %s", err, who, v)
		}
		return
	case i.Src != leaseOf(who, i.Version):
		if v != filter.DropSource {
			t.Fatalf("a packet from %v, not %s's lease: %s", i.Src, who, v)
		}
		return
	case v != filter.Pass:
		return
	}
	if i.ICMPError() {
		q, err := i.Quoted(pkt)
		if err != nil || q.Dst != i.Src || q.Src != i.Dst ||
			!(m.sent[who+"/"+tuple(&q, false)] || m.sent[owner(q.Src)+"/"+tuple(&q, true)]) {
			t.Fatalf("%s's ICMP error about a packet of no known flow passed: %+v", who, q)
		}
		return
	}
	echo, l4 := i.EchoRequest(), i.HasL4 && i.Frag != packet.LaterFragment
	if !filter.AllowedByList(rules, i.Dst, i.Proto, i.DstPort, echo, l4) && !m.sent[owner(i.Dst)+"/"+tuple(&i, false)] {
		t.Fatalf("%s's packet to %v proto %d port %d passed, allowed by no entry and answering no flow", who, i.Dst, i.Proto, i.DstPort)
	}
	m.sent[who+"/"+tuple(&i, true)] = true
}

func (m *model) checkTo(t *testing.T, h *testHub, who string, pkt []byte, v filter.Verdict) {
	i, err := packet.Parse(pkt)
	if err != nil {
		if v != filter.DropMalformed {
			t.Fatalf("a packet that does not parse (%v) to %s: %s", err, who, v)
		}
		return
	}
	if v != filter.Pass {
		return
	}
	if i.Dst != leaseOf(who, i.Version) {
		t.Fatalf("a packet to %v passed toward %s", i.Dst, who)
	}
	switch {
	case i.ICMPError():
		q, err := i.Quoted(pkt)
		if err != nil || q.Src != i.Dst || !(m.sent[who+"/"+tuple(&q, true)] || m.sent[owner(q.Dst)+"/"+tuple(&q, false)]) {
			t.Fatalf("an ICMP error quoting no flow of %s passed toward it: %+v", who, q)
		}
	case i.Frag == packet.LaterFragment:
		if !m.firsts[fmt.Sprint(who, i.Src, i.FragID)] {
			t.Fatalf("a later fragment passed toward %s without its first", who)
		}
	default:
		if !m.sent[who+"/"+tuple(&i, false)] && !m.sent[owner(i.Src)+"/"+tuple(&i, true)] {
			t.Fatalf("a packet %v -> %v proto %d passed toward %s, which opened no such flow", i.Src, i.Dst, i.Proto, who)
		}
		if i.Frag == packet.FirstFragment {
			m.firsts[fmt.Sprint(who, i.Src, i.FragID)] = true
		}
	}
}

// checkAnswerOf checks what the fuzz target got from Answer: a well-formed
// "administratively prohibited" to the dropped packet's source, never
// about an error, a non-first fragment, or multicast.
func checkAnswerOf(t *testing.T, answer, dropped []byte) {
	d, err := packet.Parse(dropped)
	if err != nil || d.ICMPError() || d.Frag == packet.LaterFragment || d.Dst.IsMulticast() || !d.Src.IsGlobalUnicast() {
		t.Fatalf("answered a packet that must not be: %+v (%v)", d, err)
	}
	checkAnswer(t, answer, dropped)
}
