package tunnel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
)

var allowB = []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24"), netip.MustParsePrefix("fd02::/64")}

func withHdr(pkt []byte) []byte { return append(make([]byte, netif.VirtioHdrLen), pkt...) }

func TestCheckInbound(t *testing.T) {
	udp4 := packet.UDP(ap("10.2.0.10:1"), ap("10.1.0.10:2"), []byte("x"))
	udp6 := packet.UDP(ap("[fd02::10]:1"), ap("[fd01::10]:2"), []byte("x"))
	super4 := packet.TCPSuper(ap("10.2.0.10:1"), ap("10.1.0.10:2"), 1, 1448, bytes.Repeat([]byte{1}, 4*1448))
	super6 := packet.TCPSuper(ap("[fd02::10]:1"), ap("[fd01::10]:2"), 1, 1440, bytes.Repeat([]byte{1}, 4*1440))
	mod := func(b []byte, f func([]byte)) []byte {
		c := bytes.Clone(b)
		f(c)
		return c
	}
	putHdr := func(b []byte, f func(*packet.VirtioHdr)) []byte {
		return mod(b, func(c []byte) { h, _ := packet.ParseVirtioHdr(c); f(&h); h.Put(c) })
	}
	tests := []struct {
		name   string
		frame  []byte
		accept netif.Offload
		want   dropReason
	}{
		{"a plain IPv4 packet from an allowed source passes", withHdr(udp4), 0, dropNone},
		{"a plain IPv6 packet from an allowed source passes", withHdr(udp6), 0, dropNone},
		{"a TCPv4 super-packet passes when accepted", super4, netif.AllOffloads, dropNone},
		{"a TCPv6 super-packet passes when accepted", super6, netif.AllOffloads, dropNone},
		{"a super-packet of a type not accepted is refused", super4, netif.OffloadTCPv6, dropGSO},
		{"a source outside allowed_ips is refused", withHdr(packet.UDP(ap("10.9.0.1:1"), ap("10.1.0.10:2"), nil)), 0, dropSource},
		{"a frame shorter than the virtio header is malformed", []byte{1, 2, 3}, 0, dropMalformed},
		{"a truncated IP header is malformed", withHdr(udp4[:12]), 0, dropMalformed},
		{"an IPv4 length field that disagrees is malformed", withHdr(mod(udp4, func(c []byte) { binary.BigEndian.PutUint16(c[2:], 9999) })), 0, dropMalformed},
		{"an IPv6 payload length that disagrees is malformed", withHdr(mod(udp6, func(c []byte) { binary.BigEndian.PutUint16(c[4:], 1) })), 0, dropMalformed},
		{"IP version 5 is malformed", withHdr(mod(udp4, func(c []byte) { c[0] = 0x55 })), 0, dropMalformed},
		{"a plain packet larger than the MTU is malformed", withHdr(packet.UDP(ap("10.2.0.10:1"), ap("10.1.0.10:2"), make([]byte, 1600))), 0, dropMalformed},
		{"a checksum offset outside the packet is malformed", putHdr(withHdr(udp4), func(h *packet.VirtioHdr) { h.Flags, h.CsumStart, h.CsumOffset = packet.VirtioNeedsCsum, 20, 200 }), 0, dropMalformed},
		{"GSO without NEEDS_CSUM is malformed", putHdr(super4, func(h *packet.VirtioHdr) { h.Flags = 0 }), netif.AllOffloads, dropMalformed},
		{"GSO with csum_start past the IP header is malformed", putHdr(super4, func(h *packet.VirtioHdr) { h.CsumStart = 24 }), netif.AllOffloads, dropMalformed},
		{"GSO with a UDP checksum offset on TCP is malformed", putHdr(super4, func(h *packet.VirtioHdr) { h.CsumOffset = 6 }), netif.AllOffloads, dropMalformed},
		{"GSO with gso_size 0 is malformed", putHdr(super4, func(h *packet.VirtioHdr) { h.GSOSize = 0 }), netif.AllOffloads, dropMalformed},
		{"GSO with segments larger than the MTU is malformed", putHdr(super4, func(h *packet.VirtioHdr) { h.GSOSize = 1461 }), netif.AllOffloads, dropMalformed},
		{"a TCPv4 GSO type on an IPv6 packet is malformed", putHdr(super6, func(h *packet.VirtioHdr) { h.GSOType = packet.GSOTCPv4 }), netif.AllOffloads, dropMalformed},
		{"an unknown GSO type is refused", putHdr(super4, func(h *packet.VirtioHdr) { h.GSOType = 3 }), netif.AllOffloads, dropGSO},
		{"GSO with the ECN bit is refused", putHdr(super4, func(h *packet.VirtioHdr) { h.GSOType |= packet.GSOECN }), netif.AllOffloads, dropGSO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkInbound(bytes.Clone(tc.frame), tc.accept, 1500, allowB); got != tc.want {
				t.Fatalf("got %s, want %s", dropNames[got], dropNames[tc.want])
			}
		})
	}
}

func TestCheckInboundNormalisesHdrLen(t *testing.T) {
	super := packet.TCPSuper(ap("10.2.0.10:1"), ap("10.1.0.10:2"), 1, 1448, bytes.Repeat([]byte{1}, 3*1448))
	h, _ := packet.ParseVirtioHdr(super)
	h.HdrLen = 1500 // what the kernel reports on a forwarding path
	h.Put(super)
	if r := checkInbound(super, netif.AllOffloads, 1500, allowB); r != dropNone {
		t.Fatalf("refused: %s", dropNames[r])
	}
	if got, _ := packet.ParseVirtioHdr(super); got.HdrLen != 40 {
		t.Fatalf("hdr_len %d, want 40 (IPv4 + TCP headers)", got.HdrLen)
	}
}

func TestFixOutboundAddsPartialChecksum(t *testing.T) {
	super := packet.TCPSuper(ap("10.1.0.10:1"), ap("10.2.0.10:2"), 1, 1448, bytes.Repeat([]byte{1}, 3*1448))
	want := bytes.Clone(super)
	h, _ := packet.ParseVirtioHdr(super)
	h.Flags, h.CsumStart, h.CsumOffset = 0, 0, 0 // as delivered with DATA_VALID after GRO
	h.Put(super)
	binary.BigEndian.PutUint16(super[netif.VirtioHdrLen+36:], 0xdead)
	hdr, _ := packet.ParseHeader(super[netif.VirtioHdrLen:])
	if !fixOutbound(super, hdr) {
		t.Fatal("fixOutbound refused a TCP super-packet")
	}
	if !bytes.Equal(super, want) {
		t.Fatalf("fixed packet differs from the partial-checksum form:\n got %x\nwant %x", super[:60], want[:60])
	}
}

func FuzzCheckInbound(f *testing.F) {
	f.Add(withHdr(packet.UDP(ap("10.2.0.10:1"), ap("10.1.0.10:2"), []byte("x"))))
	f.Add(packet.TCPSuper(ap("[fd02::10]:1"), ap("[fd01::10]:2"), 1, 1440, bytes.Repeat([]byte{1}, 2*1440)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		// Must never panic, and what passes must be a well-formed packet.
		if checkInbound(frame, netif.AllOffloads, 1500, allowB) == dropNone {
			if _, err := packet.ParseHeader(frame[netif.VirtioHdrLen:]); err != nil {
				t.Fatalf("accepted a frame whose IP header does not parse: %x", frame)
			}
		}
	})
}
