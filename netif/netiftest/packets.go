package netiftest

import (
	"fmt"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/netif/internal/packet"
)

// TCP flags for IPv4TCP and IPv6TCP.
const (
	TCPFin = packet.TCPFin
	TCPSyn = packet.TCPSyn
	TCPRst = packet.TCPRst
	TCPPsh = packet.TCPPsh
	TCPAck = packet.TCPAck
)

// The builders below return a new packet with every length and checksum
// filled in: IP header without options, TTL/hop limit 64, IPv4 with DF and
// ID 0. They panic when an address is not of the builder's family: that is
// a mistake in the test, not input.

// IPv4UDP returns an IPv4 UDP datagram from src to dst carrying payload.
func IPv4UDP(src, dst netip.AddrPort, payload []byte) []byte {
	must4(src.Addr(), dst.Addr())
	return packet.UDP(src, dst, payload, false)
}

// IPv6UDP returns an IPv6 UDP datagram from src to dst carrying payload.
func IPv6UDP(src, dst netip.AddrPort, payload []byte) []byte {
	must6(src.Addr(), dst.Addr())
	return packet.UDP(src, dst, payload, false)
}

// IPv4TCP returns an IPv4 TCP segment (no options, window 65535).
func IPv4TCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	must4(src.Addr(), dst.Addr())
	return packet.TCP(src, dst, seq, ack, flags, payload, false)
}

// IPv6TCP returns an IPv6 TCP segment (no options, window 65535).
func IPv6TCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	must6(src.Addr(), dst.Addr())
	return packet.TCP(src, dst, seq, ack, flags, payload, false)
}

// IPv4ICMPEcho returns an ICMP echo request.
func IPv4ICMPEcho(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	must4(src, dst)
	return packet.ICMPEcho(src, dst, id, seq, payload)
}

// IPv6ICMPEcho returns an ICMPv6 echo request.
func IPv6ICMPEcho(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	must6(src, dst)
	return packet.ICMPEcho(src, dst, id, seq, payload)
}

// TCPSuper returns a virtio header plus a TCP GSO super-packet (IPv4 or
// IPv6 after src) carrying payload in segments of mss bytes, in the form
// the kernel reads and writes: NEEDS_CSUM, csum_start at the TCP header,
// csum_offset 16, the pseudo-header sum in the checksum field, flags
// ACK|PSH. Feed it to InjectRaw or NewGeneratorRaw.
func TCPSuper(src, dst netip.AddrPort, seq uint32, mss int, payload []byte) []byte {
	mustSame(src.Addr(), dst.Addr())
	return packet.TCPSuper(src, dst, seq, mss, payload)
}

// UDPSuper is TCPSuper for a UDP_L4 (USO) super-packet cut every segSize
// bytes.
func UDPSuper(src, dst netip.AddrPort, segSize int, payload []byte) []byte {
	mustSame(src.Addr(), dst.Addr())
	return packet.UDPSuper(src, dst, segSize, payload)
}

// Checksum is the Internet checksum (RFC 1071) of b: 0 over a header or
// segment whose checksum field is right (add a pseudo-header sum for TCP
// and UDP with PseudoSum).
func Checksum(b []byte, pseudo uint32) uint16 { return packet.Checksum(b, pseudo) }

// PseudoSum is the running one's-complement sum of the TCP/UDP/ICMPv6
// pseudo-header, to pass to Checksum.
func PseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	return packet.PseudoSum(src, dst, proto, length)
}

func must4(a, b netip.Addr) {
	if !a.Is4() || !b.Is4() {
		panic(fmt.Sprintf("netiftest: %v and %v must both be IPv4", a, b))
	}
}

func must6(a, b netip.Addr) {
	if !a.Is6() || a.Is4In6() || !b.Is6() || b.Is4In6() {
		panic(fmt.Sprintf("netiftest: %v and %v must both be IPv6", a, b))
	}
}

func mustSame(a, b netip.Addr) {
	if a.Is4() {
		must4(a, b)
	} else {
		must6(a, b)
	}
}
