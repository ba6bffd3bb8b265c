package filter_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// checkAnswer checks that answer is an ICMP "administratively prohibited"
// from the hub to dropped's source, quoting dropped's first bytes, with
// correct checksums, within the size limit of its family.
func checkAnswer(t *testing.T, answer, dropped []byte) {
	t.Helper()
	i, err := packet.Parse(answer)
	if err != nil {
		t.Fatalf("the answer does not parse: %v", err)
	}
	d, _ := packet.Parse(dropped)
	src, typ, code, most := hub4, uint8(3), uint8(13), 576
	if d.Version == 6 {
		src, typ, code, most = hub6, 1, 1, 1280
	}
	if i.Src != src || i.Dst != d.Src || i.ICMPType != typ || i.ICMPCode != code {
		t.Fatalf("answer %v -> %v type %d code %d; want %v -> %v type %d code %d", i.Src, i.Dst, i.ICMPType, i.ICMPCode, src, d.Src, typ, code)
	}
	if len(answer) > most {
		t.Fatalf("the answer has %d bytes, more than %d", len(answer), most)
	}
	quote := answer[i.Quote:]
	if want := dropped[:min(len(dropped), most-i.Quote)]; !bytes.Equal(quote, want) {
		t.Fatalf("the answer quotes %d bytes, not the first %d of the dropped packet", len(quote), len(want))
	}
	msg := answer[i.L4Off:]
	var pseudo uint16
	if d.Version == 6 {
		pseudo = packet.PseudoSum(answer, packet.ProtoICMPv6, len(msg))
	} else if packet.Checksum(answer[:i.L4Off], 0) != 0 {
		t.Fatal("the IPv4 header checksum is wrong")
	}
	if packet.Checksum(msg, pseudo) != 0 {
		t.Fatal("the ICMP checksum is wrong")
	}
}

func TestAnswers(t *testing.T) {
	const alice, alice6 = "100.64.8.10:40000", "[fd64:8::10]:40000"
	long := make([]byte, 1400)
	mcast := packet.UDP(ap(alice), ap("224.0.0.251:5353"), nil)
	for _, tc := range []struct {
		name    string
		dropped []byte
		out     bool // the client sent it
		answer  bool
	}{
		{"a client's denied TCP SYN is answered", syn(alice, "10.1.0.20:22"), true, true},
		{"a client's denied IPv6 datagram is answered", udp(alice6, "[fd01::20]:161"), true, true},
		{"a LAN host's SYN to a client is answered", syn("10.1.0.20:5555", alice), false, true},
		{"a long IPv4 packet is quoted up to 576 bytes of answer", packet.UDP(ap(alice), ap("10.1.0.20:9"), long), true, true},
		{"a long IPv6 packet is quoted up to 1280 bytes of answer", packet.UDP(ap(alice6), ap("[fd01::20]:9"), long), true, true},
		{"an ICMP error is never answered", icmpErr("100.64.8.10", udp("10.1.0.20:9", alice), 3, 3, 0), true, false},
		{"a packet to a multicast group is never answered", mcast, true, false},
		{"a packet to the broadcast address is never answered", packet.UDP(ap(alice), ap("255.255.255.255:67"), nil), true, false},
		{"a packet from an unspecified source is never answered", udp("0.0.0.0:68", alice), false, false},
		{"a later fragment is never answered", packet.Fragments(packet.UDP(ap(alice), ap("10.1.0.20:9"), long), 600, 1)[1], true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(t)
			c := h.client("alice")
			verdict := c.ToClient(tc.dropped, h.now)
			if tc.out {
				verdict = c.FromClient(tc.dropped, h.now)
			}
			if verdict != denied {
				t.Fatalf("the packet was not dropped as acl: %s", verdict)
			}
			buf := bytes.Repeat([]byte{0xee}, filter.AnswerSize+100)
			n := c.Answer(buf, tc.dropped, h.now)
			if !tc.answer {
				if n != 0 {
					t.Fatalf("answered with %d bytes", n)
				}
				return
			}
			if n == 0 {
				t.Fatal("no answer")
			}
			checkAnswer(t, buf[:n], tc.dropped)
		})
	}
}

func TestAnswersAreRateLimitedPerClient(t *testing.T) {
	h := newTestHub(t)
	alice, bob := h.client("alice"), h.client("bob")
	buf := make([]byte, filter.AnswerSize)
	scan := func(c *filter.Client, src string, n int) (answered int) {
		for port := range n {
			p := syn(src, netip.AddrPortFrom(ip("10.2.0.10"), uint16(1+port)).String())
			if c.Answer(buf, p, h.now) > 0 {
				answered++
			}
		}
		return answered
	}
	if n := scan(alice, "100.64.8.10:40000", 1000); n != 20 {
		t.Errorf("a scan of 1,000 ports at once got %d answers, want the burst of 20", n)
	}
	if n := scan(bob, "100.64.8.11:40000", 5); n != 5 {
		t.Errorf("another client's budget is its own: %d answers of 5", n)
	}
	h.now += int64(time.Second)
	if n := scan(alice, "100.64.8.10:40000", 1000); n != 10 {
		t.Errorf("a second later: %d answers, want 10", n)
	}
	h.now += int64(10 * time.Second)
	if n := scan(alice, "100.64.8.10:40000", 1000); n != 20 {
		t.Errorf("after a quiet spell: %d answers, want the burst of 20 again", n)
	}
}

func TestAnswerNeedsRoomAndAHubAddress(t *testing.T) {
	h := newTestHub(t)
	dropped := syn("100.64.8.10:40000", "10.1.0.20:22")
	if n := h.client("alice").Answer(make([]byte, 20+8+20+7), dropped, h.now); n != 0 {
		t.Errorf("a buffer without room for the quoted headers got %d bytes", n)
	}
	only6 := filter.NewHub([]netip.Addr{hub6}, nil)
	c, _ := only6.NewClient(addrs("100.64.8.10"), nil, 0)
	if n := c.Answer(make([]byte, filter.AnswerSize), dropped, 0); n != 0 {
		t.Errorf("a hub without an IPv4 address answered an IPv4 packet (%d bytes)", n)
	}
}
