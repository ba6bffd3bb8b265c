package filter_test

import (
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

const (
	pass      = filter.Pass
	denied    = filter.DropACL
	spoofed   = filter.DropSource
	malformed = filter.DropMalformed
)

// The rules of docs/filter.md, one case each: every case is a fresh hub
// with alice (web: tcp/80,443 to the LAN, udp/53 to 10.1.0.53), bob
// (admins: the whole LAN), carol (ssh to other clients, ping to the LAN)
// and dave (nested entries, and web).
func TestFilterRules(t *testing.T) {
	const (
		alice   = "100.64.8.10:40000"
		alice6  = "[fd64:8::10]:40000"
		bob     = "100.64.8.11:40000"
		carol   = "100.64.8.12:40000"
		carol6  = "[fd64:8::12]:40000"
		dave    = "100.64.8.13:40000"
		web     = "10.1.0.20:443"
		web6    = "[fd01::20]:443"
		sshd    = "10.1.0.20:22"
		dns     = "10.1.0.53:53"
		aliceIP = "100.64.8.10"
	)
	tooBig4 := func(q []byte) []byte { return icmpErr("10.1.0.1", q, packet.ICMPv4Unreachable, 4, 1200) } // fragmentation needed
	tooBig6 := func(q []byte) []byte { return icmpErr("fd01::1", q, packet.ICMPv6PacketTooBig, 0, 1280) }
	big := make([]byte, 3000)
	aliceDNSFrags := packet.Fragments(packet.UDP(ap(dns), ap(alice), big), 1400, 7)
	bobFrags := packet.Fragments(packet.UDP(ap(bob), ap("10.1.0.20:9"), big), 1400, 8)
	aliceFrags := packet.Fragments(packet.UDP(ap(alice), ap(dns), big), 1400, 9)

	for _, tc := range []struct {
		name  string
		steps []step
	}{
		// From a client: the source is its lease.
		{"a client's packet from its lease to an allowed port passes", []step{
			from("alice", syn(alice, web), pass)}},
		{"a client's packet from another address is source_not_allowed", []step{
			from("alice", syn("100.64.8.99:40000", web), spoofed)}},
		{"a client's IPv6 packet from another client's lease is source_not_allowed", []step{
			from("alice", syn("[fd64:8::11]:40000", web6), spoofed)}},
		{"a packet that does not parse is malformed", []step{
			from("alice", syn(alice, web)[:30], malformed), to("alice", synAck(web, alice)[:30], malformed)}},

		// From a client: destination, protocol and port by its groups.
		{"a port no group of the client lists is dropped as acl", []step{
			from("alice", syn(alice, sshd), denied)}},
		{"a tcp entry does not admit udp to the same port", []step{
			from("alice", udp(alice, web), denied)}},
		{"a udp entry admits its port at its host only", []step{
			from("alice", udp(alice, dns), pass), from("alice", udp(alice, "10.1.0.54:53"), denied)}},
		{"a destination outside every entry is dropped", []step{
			from("alice", syn(alice, "10.2.0.10:443"), denied)}},
		{"a whole-prefix entry admits every protocol", []step{
			from("bob", withProto(udp(bob, "10.1.0.20:9"), 47), pass), // GRE
			from("bob", udp(bob, "10.1.0.20:9"), pass),
			from("bob", ping(bob[:11], "10.1.0.20", 1), pass)}},
		{"an icmp entry admits echo requests, IPv4 and IPv6", []step{
			from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass),
			from("carol", ping("fd64:8::12", "fd01::20", 7), pass)}},
		{"an icmp entry admits no other ICMP message", []step{
			from("carol", packet.ICMP(ip("100.64.8.12"), ip("10.1.0.20"), 13, 0, make([]byte, 16)), denied), // timestamp
			from("carol", pong("100.64.8.12", "10.1.0.20", 7), denied)}},
		{"an icmp entry admits no tcp", []step{
			from("carol", syn(carol, web), denied)}},
		{"entries of nested prefixes add up: the /8's port is open in the /24", []step{
			from("dave", syn(dave, sshd), pass), from("dave", syn(dave, web), pass),
			from("dave", syn(dave, "10.7.0.1:22"), pass), from("dave", syn(dave, "10.7.0.1:443"), denied),
			from("dave", udp(dave, "10.1.0.9:5050"), pass), from("dave", udp(dave, "10.1.0.9:5101"), denied)}},
		{"a client in two groups has the rights of both", []step{
			from("dave", syn(dave, "10.1.0.20:80"), pass), from("dave", syn(dave, "10.7.0.1:22"), pass),
			from("carol", syn(carol, "100.64.8.10:22"), pass), from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass)}},
		{"IPv6 extension headers are walked to the port", []step{
			from("alice", withDstOpts(syn(alice6, web6)), pass),
			from("alice", withDstOpts(syn(alice6, "[fd01::20]:22")), denied)}},
		{"a later fragment from a client passes only under a whole-prefix entry", []step{
			from("bob", bobFrags[0], pass), from("bob", bobFrags[1], pass), from("bob", bobFrags[2], pass),
			from("alice", aliceFrags[0], pass), from("alice", aliceFrags[1], denied)}},

		// Toward a client: only flows it opened.
		{"a reply of a flow the client opened passes toward it", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass),
			from("alice", ack(alice, web), pass), to("alice", ack(web, alice), pass)}},
		{"a LAN host cannot open a connection to a client", []step{
			to("alice", syn(web, alice), denied), to("bob", syn(web, bob), denied), to("bob", udp(dns, bob), denied)}},
		{"a packet from another port of the same host is no reply", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck("10.1.0.20:444", alice), denied),
			to("alice", synAck(web, "100.64.8.10:40001"), denied)}},
		{"an echo reply passes for the identifier the client pinged with only", []step{
			from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass),
			to("carol", pong("10.1.0.20", "100.64.8.12", 7), pass),
			to("carol", pong("10.1.0.20", "100.64.8.12", 8), denied),
			to("carol", pong("10.1.0.21", "100.64.8.12", 7), denied)}},
		{"an echo request from a LAN host is dropped even after the client pinged it", []step{
			from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass),
			to("carol", ping("10.1.0.20", "100.64.8.12", 7), denied)}},
		{"packets of other protocols come back under a whole-prefix entry", []step{
			to("bob", withProto(udp("10.1.0.20:9", bob), 47), denied),
			from("bob", withProto(udp(bob, "10.1.0.20:9"), 47), pass),
			to("bob", withProto(udp("10.1.0.20:9", bob), 47), pass)}},
		{"a packet for another client's lease is dropped", []step{
			from("alice", syn(alice, web), pass), to("bob", synAck(web, alice), denied)}},

		// Toward a client: ICMP errors quoting its flows.
		{"a fragmentation-needed quoting a flow the client opened passes (path MTU discovery)", []step{
			from("alice", ack(alice, web), pass), to("alice", tooBig4(ack(alice, web)), pass)}},
		{"a packet-too-big quoting a flow the client opened passes (path MTU discovery)", []step{
			from("alice", ack(alice6, web6), pass), to("alice", tooBig6(ack(alice6, web6)), pass)}},
		{"an ICMP error quoting a flow the client did not open is dropped", []step{
			from("alice", ack(alice, web), pass), to("alice", tooBig4(ack(alice, "10.1.0.20:80")), denied)}},
		{"an ICMP error quoting a packet the client did not send is dropped", []step{
			from("alice", ack(alice, web), pass), to("alice", icmpErr("10.1.0.1", ack(web, alice), 3, 1, 0), denied)}},
		{"an ICMP error quoting an ICMP error is dropped", []step{
			from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass),
			to("carol", icmpErr("10.1.0.1", icmpErr("100.64.8.12", ping("10.1.0.20", "100.64.8.12", 7), 3, 3, 0), 3, 1, 0), denied)}},
		{"the client's own ICMP error about a packet of its flow passes back", []step{
			from("alice", udp(alice, dns), pass), to("alice", udp(dns, alice), pass),
			from("alice", icmpErr(aliceIP, udp(dns, alice), packet.ICMPv4Unreachable, 3, 0), pass),
			from("alice", icmpErr(aliceIP, udp("10.1.0.54:53", alice), packet.ICMPv4Unreachable, 3, 0), denied)}},

		// Toward a client: fragments.
		{"later fragments toward a client follow their first fragment", []step{
			from("alice", udp(alice, dns), pass),
			to("alice", aliceDNSFrags[0], pass), to("alice", aliceDNSFrags[1], pass), to("alice", aliceDNSFrags[2], pass)}},
		{"a later fragment whose first fragment did not pass is dropped", []step{
			to("alice", aliceDNSFrags[0], denied), from("alice", udp(alice, dns), pass), to("alice", aliceDNSFrags[1], denied)}},
		{"later fragments stop 30 s after their first fragment", []step{
			from("alice", udp(alice, dns), pass), to("alice", aliceDNSFrags[0], pass),
			to("alice", aliceDNSFrags[1], pass).after(30 * time.Second), to("alice", aliceDNSFrags[2], denied).after(time.Second)}},

		// Flows end.
		{"an unanswered UDP flow ends after 30 s", []step{
			from("alice", udp(alice, dns), pass), to("alice", udp(dns, alice), denied).after(31 * time.Second)}},
		{"an answered UDP flow lives 3 min after its last packet", []step{
			from("alice", udp(alice, dns), pass), to("alice", udp(dns, alice), pass),
			to("alice", udp(dns, alice), pass).after(3 * time.Minute),
			to("alice", udp(dns, alice), denied).after(3*time.Minute + time.Second)}},
		{"an answered TCP flow lives 2 h 4 min idle", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass),
			to("alice", ack(web, alice), pass).after(2*time.Hour + 4*time.Minute),
			to("alice", ack(web, alice), denied).after(2*time.Hour + 4*time.Minute + time.Second)}},
		{"an unanswered TCP flow ends after 2 min", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), denied).after(2*time.Minute + time.Second)}},
		{"a TCP flow ends 10 s after a RST", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass), to("alice", rst(web, alice), pass),
			to("alice", ack(web, alice), denied).after(11 * time.Second)}},
		{"a TCP flow ends 2 min after a FIN", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass), from("alice", fin(alice, web), pass),
			to("alice", ack(web, alice), pass).after(time.Minute), to("alice", ack(web, alice), denied).after(2*time.Minute + time.Second)}},
		{"a new SYN after a RST opens the flow afresh", []step{
			from("alice", syn(alice, web), pass), to("alice", synAck(web, alice), pass), from("alice", rst(alice, web), pass),
			from("alice", syn(alice, web), pass).after(5 * time.Second), to("alice", synAck(web, alice), pass),
			to("alice", ack(web, alice), pass).after(time.Minute)}},
		{"an echo flow ends after 30 s", []step{
			from("carol", ping("100.64.8.12", "10.1.0.20", 7), pass),
			to("carol", pong("10.1.0.20", "100.64.8.12", 7), denied).after(31 * time.Second)}},

		// Client to client.
		{"a client reaches another when its groups allow the other's address, protocol and port", []step{
			from("carol", syn(carol, "100.64.8.10:22"), pass), to("alice", syn(carol, "100.64.8.10:22"), pass),
			from("alice", synAck("100.64.8.10:22", carol), pass), to("carol", synAck("100.64.8.10:22", carol), pass),
			from("carol", ack(carol6, "[fd64:8::10]:22"), pass), to("alice", ack(carol6, "[fd64:8::10]:22"), pass)}},
		{"a client cannot reach another its groups do not allow", []step{
			from("alice", syn(alice, "100.64.8.12:22"), denied), to("carol", syn(alice, "100.64.8.12:22"), denied)}},
		{"a client cannot send another what no flow asked for", []step{
			from("alice", synAck("100.64.8.10:22", carol), denied), to("carol", synAck("100.64.8.10:22", carol), denied)}},
		{"a client's ICMP error about another client's flow goes back to it", []step{
			from("carol", syn(carol, "100.64.8.10:22"), pass),
			from("alice", icmpErr(aliceIP, syn(carol, "100.64.8.10:22"), packet.ICMPv4Unreachable, 3, 0), pass),
			to("carol", icmpErr(aliceIP, syn(carol, "100.64.8.10:22"), packet.ICMPv4Unreachable, 3, 0), pass)}},
		{"a client may not open a flow with another client's reply", []step{
			from("carol", syn(carol, "100.64.8.10:22"), pass),
			from("alice", syn("100.64.8.10:22", carol), pass), // a SYN on carol's flow's tuple is carol's business
			from("alice", syn("100.64.8.10:23", carol), denied)}},
	} {
		t.Run(tc.name, func(t *testing.T) { newTestHub(t).run(t, tc.steps) })
	}
}
