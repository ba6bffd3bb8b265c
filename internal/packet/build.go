package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The builders below return a new packet with every length and checksum
// filled in: IP header without options, TTL/hop limit 64, IPv4 with DF and
// ID 0, TCP without options and a window of 65535. The address family is
// src's; they panic when dst is of another family, which is a mistake in
// the test or probe that calls them, not input. They allocate: they are
// for tests and the TUN start-up probe, not the data path.

const defaultTTL = 64

// TCP returns a TCP segment from src to dst with the given sequence and
// acknowledgment numbers, flags (TCPAck, ...) and payload.
func TCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	return tcp(src, dst, seq, ack, flags, payload, false)
}

// UDP returns a UDP datagram from src to dst carrying payload.
func UDP(src, dst netip.AddrPort, payload []byte) []byte {
	return udp(src, dst, payload, false)
}

// ICMPEcho returns an ICMP (IPv4) or ICMPv6 (IPv6) echo request.
func ICMPEcho(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	typ := uint8(ICMPv4EchoRequest)
	if !src.Is4() {
		typ = ICMPv6EchoRequest
	}
	body := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint16(body, id)
	binary.BigEndian.PutUint16(body[2:], seq)
	copy(body[4:], payload)
	return ICMP(src, dst, typ, 0, body)
}

// ICMP returns an ICMP (IPv4) or ICMPv6 (IPv6) message of type typ and
// code; body is what follows the checksum: the 4-byte rest of the header
// (echo identifier and sequence number, an error's unused word or MTU)
// and the data (an error's quoted packet). A body shorter than 4 bytes is
// padded with zeros.
func ICMP(src, dst netip.Addr, typ, code uint8, body []byte) []byte {
	b := newIP(src, dst, 0, ICMPHdrLen+max(len(body)-4, 0))
	var rest [4]byte
	n := copy(rest[:], body)
	PutICMP(b, src, dst, typ, code, rest, body[n:])
	return b
}

// TCPSuper returns a virtio header and a TCP GSO super-packet (TCPv4 or
// TCPv6 after src's family) carrying payload in segments of mss bytes, in
// the form a TUN reads and accepts: VirtioNeedsCsum, CsumStart at the TCP
// header, the pseudo-header sum in the TCP checksum field, HdrLen covering
// the headers, flags ACK|PSH.
func TCPSuper(src, dst netip.AddrPort, seq uint32, mss int, payload []byte) []byte {
	gso := uint8(GSOTCPv4)
	if !src.Addr().Is4() {
		gso = GSOTCPv6
	}
	pkt := tcp(src, dst, seq, 0, TCPAck|TCPPsh, payload, true)
	return withGSO(pkt, ipHeaderLen(src.Addr()), TCPHdrLen, TCPCsumOffset, gso, mss)
}

// UDPSuper is TCPSuper for a UDP_L4 (USO) super-packet: one UDP header
// whose length field covers the whole payload, cut every segSize bytes.
func UDPSuper(src, dst netip.AddrPort, segSize int, payload []byte) []byte {
	pkt := udp(src, dst, payload, true)
	return withGSO(pkt, ipHeaderLen(src.Addr()), UDPHdrLen, UDPCsumOffset, GSOUDPL4, segSize)
}

func tcp(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte, partial bool) []byte {
	b := newIP(src.Addr(), dst.Addr(), ProtoTCP, TCPHdrLen+len(payload))
	t := b[ipHeaderLen(src.Addr()):]
	binary.BigEndian.PutUint16(t[0:], src.Port())
	binary.BigEndian.PutUint16(t[2:], dst.Port())
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = (TCPHdrLen / 4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 0xffff)
	copy(t[TCPHdrLen:], payload)
	finishL4(b, src.Addr(), ProtoTCP, TCPCsumOffset, partial)
	return b
}

func udp(src, dst netip.AddrPort, payload []byte, partial bool) []byte {
	b := newIP(src.Addr(), dst.Addr(), ProtoUDP, UDPHdrLen+len(payload))
	u := b[ipHeaderLen(src.Addr()):]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[UDPHdrLen:], payload)
	finishL4(b, src.Addr(), ProtoUDP, UDPCsumOffset, partial)
	return b
}

// ipHeaderLen is the IP header size for addresses of src's family.
func ipHeaderLen(src netip.Addr) int {
	if src.Is4() {
		return IPv4HdrLen
	}
	return IPv6HdrLen
}

// newIP returns a packet of IP header + l4len bytes with the IP header
// filled in; the transport part is left zero.
func newIP(src, dst netip.Addr, proto uint8, l4len int) []byte {
	if src.Is4() != dst.Is4() || src.Is4In6() || dst.Is4In6() || !src.IsValid() {
		panic(fmt.Sprintf("packet: %v and %v are not addresses of one family", src, dst))
	}
	b := make([]byte, ipHeaderLen(src)+l4len)
	if src.Is4() {
		putIPv4(b, src, dst, proto)
	} else {
		putIPv6(b, src, dst, proto)
	}
	return b
}

func putIPv4(b []byte, src, dst netip.Addr, proto uint8) {
	b[0] = 4<<4 | IPv4HdrLen/4
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	b[8] = defaultTTL
	b[9] = proto
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], Checksum(b[:IPv4HdrLen], 0))
}

func putIPv6(b []byte, src, dst netip.Addr, next uint8) {
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-IPv6HdrLen))
	b[6] = next
	b[7] = defaultTTL
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// finishL4 writes the transport checksum at csumAt (from the transport
// header). With partial it writes only the pseudo-header sum, as a
// VirtioNeedsCsum packet carries it.
func finishL4(b []byte, src netip.Addr, proto uint8, csumAt int, partial bool) {
	l4 := b[ipHeaderLen(src):]
	pseudo := PseudoSum(b, proto, len(l4))
	if partial {
		binary.BigEndian.PutUint16(l4[csumAt:], pseudo)
		return
	}
	binary.BigEndian.PutUint16(l4[csumAt:], transportChecksum(l4, proto, pseudo))
}

// transportChecksum is the checksum field of the TCP or UDP header l4
// (whose field is zero) over the pseudo-header sum pseudo: a UDP checksum
// that comes out 0 is sent as 0xffff, 0 meaning "none" (RFC 768).
func transportChecksum(l4 []byte, proto uint8, pseudo uint16) uint16 {
	c := Checksum(l4, pseudo)
	if c == 0 && proto == ProtoUDP {
		c = 0xffff
	}
	return c
}

// withGSO prefixes pkt with the virtio header of a super-packet.
func withGSO(pkt []byte, iphl, l4hl, csumOff int, gso uint8, segSize int) []byte {
	out := make([]byte, VirtioHdrLen+len(pkt))
	VirtioHdr{
		Flags:      VirtioNeedsCsum,
		GSOType:    gso,
		HdrLen:     uint16(iphl + l4hl),
		GSOSize:    uint16(segSize),
		CsumStart:  uint16(iphl),
		CsumOffset: uint16(csumOff),
	}.Put(out)
	copy(out[VirtioHdrLen:], pkt)
	return out
}
