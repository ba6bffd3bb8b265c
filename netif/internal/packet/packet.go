// Package packet builds small IPv4 and IPv6 packets with correct checksums:
// the TUN start-up probe uses it for GSO super-packets, and netiftest wraps
// it for tests. It is not a parser and not for the data path.
package packet

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Header sizes without options.
const (
	IPv4HdrLen = 20
	IPv6HdrLen = 40
	TCPHdrLen  = 20
	UDPHdrLen  = 8
	ICMPHdrLen = 8 // echo request/reply: type, code, checksum, id, seq
)

// Offsets of the checksum field inside the transport header, the values of
// virtio_net_hdr.csum_offset.
const (
	TCPCsumOffset = 16
	UDPCsumOffset = 6
)

// TCP flags (RFC 9293 section 3.1).
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
)

const defaultTTL = 64

// Sum adds b to the one's-complement running sum, as 16-bit big-endian
// words; an odd last byte is padded with zero.
func Sum(b []byte, sum uint32) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// Fold folds a running sum to 16 bits, without complementing it.
func Fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// Checksum is the Internet checksum (RFC 1071) of b on top of sum.
func Checksum(b []byte, sum uint32) uint16 {
	return ^Fold(Sum(b, sum))
}

// PseudoSum is the running sum of the TCP/UDP/ICMPv6 pseudo-header for a
// transport segment of length bytes.
func PseudoSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	s, d := src.AsSlice(), dst.AsSlice()
	sum := Sum(d, Sum(s, 0))
	sum += uint32(proto)
	sum += uint32(length>>16) + uint32(length&0xffff)
	return sum
}

// ipHeaderLen is the IP header size for addresses of src's family.
func ipHeaderLen(src netip.Addr) int {
	if src.Is4() {
		return IPv4HdrLen
	}
	return IPv6HdrLen
}

// newIP returns a packet of ip header + l4len bytes with the IP header
// filled in; the transport part is left zero.
func newIP(src, dst netip.Addr, proto uint8, l4len int) []byte {
	hl := ipHeaderLen(src)
	b := make([]byte, hl+l4len)
	if src.Is4() {
		putIPv4(b, src, dst, proto)
	} else {
		putIPv6(b, src, dst, proto)
	}
	return b
}

func putIPv4(b []byte, src, dst netip.Addr, proto uint8) {
	b[0] = 0x45
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
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-IPv6HdrLen))
	b[6] = next
	b[7] = defaultTTL
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// finishL4 writes the transport checksum at csumAt (relative to the
// transport header). With partial it writes only the folded pseudo-header
// sum, as a CHECKSUM_PARTIAL packet (virtio NEEDS_CSUM) carries it.
func finishL4(b []byte, src, dst netip.Addr, proto uint8, csumAt int, partial bool) {
	l4 := b[ipHeaderLen(src):]
	pseudo := PseudoSum(src, dst, proto, len(l4))
	if partial {
		binary.BigEndian.PutUint16(l4[csumAt:], Fold(pseudo))
		return
	}
	c := Checksum(l4, pseudo)
	if c == 0 && proto == ProtoUDP {
		c = 0xffff // RFC 768: zero means "no checksum"
	}
	binary.BigEndian.PutUint16(l4[csumAt:], c)
}

// TCP returns an IPv4 or IPv6 TCP segment (the family of src; dst must
// match) with the given flags and payload, a window of 65535 and no
// options. With partial the checksum field holds only the pseudo-header sum.
func TCP(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte, partial bool) []byte {
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
	finishL4(b, src.Addr(), dst.Addr(), ProtoTCP, TCPCsumOffset, partial)
	return b
}

// UDP returns an IPv4 or IPv6 UDP datagram (the family of src; dst must
// match). With partial the checksum field holds only the pseudo-header sum.
func UDP(src, dst netip.AddrPort, payload []byte, partial bool) []byte {
	b := newIP(src.Addr(), dst.Addr(), ProtoUDP, UDPHdrLen+len(payload))
	u := b[ipHeaderLen(src.Addr()):]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[UDPHdrLen:], payload)
	finishL4(b, src.Addr(), dst.Addr(), ProtoUDP, UDPCsumOffset, partial)
	return b
}

// ICMP echo types (RFC 792, RFC 4443).
const (
	ICMPv4EchoRequest = 8
	ICMPv4EchoReply   = 0
	ICMPv6EchoRequest = 128
	ICMPv6EchoReply   = 129
)

// ICMPEcho returns an ICMP (IPv4) or ICMPv6 (IPv6) echo request from src to
// dst; dst must be of src's family.
func ICMPEcho(src, dst netip.Addr, id, seq uint16, payload []byte) []byte {
	proto, typ := uint8(ProtoICMP), uint8(ICMPv4EchoRequest)
	if !src.Is4() {
		proto, typ = ProtoICMPv6, ICMPv6EchoRequest
	}
	b := newIP(src, dst, proto, ICMPHdrLen+len(payload))
	m := b[ipHeaderLen(src):]
	m[0] = typ
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[ICMPHdrLen:], payload)
	var pseudo uint32
	if !src.Is4() {
		pseudo = PseudoSum(src, dst, proto, len(m))
	}
	binary.BigEndian.PutUint16(m[2:], Checksum(m, pseudo))
	return b
}

// Virtio header fields (include/uapi/linux/virtio_net.h).
const (
	VirtioNeedsCsum = 0x01 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	VirtioDataValid = 0x02 // VIRTIO_NET_HDR_F_DATA_VALID

	GSONone  = 0 // VIRTIO_NET_HDR_GSO_NONE
	GSOTCPv4 = 1 // VIRTIO_NET_HDR_GSO_TCPV4
	GSOTCPv6 = 4 // VIRTIO_NET_HDR_GSO_TCPV6
	GSOUDPL4 = 5 // VIRTIO_NET_HDR_GSO_UDP_L4
)

// VirtioHdrLen is the size of struct virtio_net_hdr.
const VirtioHdrLen = 10

// VirtioHdr is struct virtio_net_hdr, little-endian on the wire.
type VirtioHdr struct {
	Flags, GSOType                         uint8
	HdrLen, GSOSize, CsumStart, CsumOffset uint16
}

// Put writes h into b[:VirtioHdrLen].
func (h VirtioHdr) Put(b []byte) {
	_ = b[VirtioHdrLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
}

// ParseVirtioHdr reads a header from b, which must hold VirtioHdrLen bytes.
func ParseVirtioHdr(b []byte) (VirtioHdr, bool) {
	if len(b) < VirtioHdrLen {
		return VirtioHdr{}, false
	}
	return VirtioHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		GSOSize:    binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
	}, true
}

// TCPSuper returns a virtio header and a TCP GSO super-packet carrying
// payload in segments of mss bytes, in the form the kernel hands out and
// accepts: NEEDS_CSUM, csum_start at the transport header, the
// pseudo-header sum in the TCP checksum field, hdr_len covering the headers.
func TCPSuper(src, dst netip.AddrPort, seq uint32, mss int, payload []byte) []byte {
	gso := uint8(GSOTCPv4)
	if !src.Addr().Is4() {
		gso = GSOTCPv6
	}
	pkt := TCP(src, dst, seq, 0, TCPAck|TCPPsh, payload, true)
	return withGSO(pkt, ipHeaderLen(src.Addr()), TCPHdrLen, TCPCsumOffset, gso, mss)
}

// UDPSuper is TCPSuper for a UDP_L4 (USO) super-packet: one UDP header
// whose length field covers the whole payload, segmented every segSize bytes.
func UDPSuper(src, dst netip.AddrPort, segSize int, payload []byte) []byte {
	pkt := UDP(src, dst, payload, true)
	return withGSO(pkt, ipHeaderLen(src.Addr()), UDPHdrLen, UDPCsumOffset, GSOUDPL4, segSize)
}

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
