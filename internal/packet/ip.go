package packet

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers and IPv6 extension header types (IANA "Assigned
// Internet Protocol Numbers").
const (
	ProtoHopOpts  = 0  // IPv6 hop-by-hop options (RFC 8200 §4.3)
	ProtoICMP     = 1  // RFC 792
	ProtoTCP      = 6  // RFC 9293
	ProtoUDP      = 17 // RFC 768
	ProtoRouting  = 43 // IPv6 routing header (RFC 8200 §4.4)
	ProtoFragment = 44 // IPv6 fragment header (RFC 8200 §4.5)
	ProtoESP      = 50 // RFC 4303
	ProtoAH       = 51 // RFC 4302
	ProtoICMPv6   = 58 // RFC 4443
	ProtoNoNext   = 59 // IPv6 "no next header" (RFC 8200 §4.7)
	ProtoDstOpts  = 60 // IPv6 destination options (RFC 8200 §4.6)
)

// Header sizes: IPv4 without options, the fixed IPv6 header, TCP without
// options, UDP, and an ICMP/ICMPv6 header with its 4-byte rest of header
// (RFC 792, RFC 4443 §2.1).
const (
	IPv4HdrLen = 20
	IPv6HdrLen = 40
	TCPHdrLen  = 20
	UDPHdrLen  = 8
	ICMPHdrLen = 8
)

// Offsets of the checksum field in the transport header: the values of
// VirtioHdr.CsumOffset.
const (
	TCPCsumOffset = 16
	UDPCsumOffset = 6
)

// TCP flags, byte 13 of the header (RFC 9293 §3.1, RFC 3168 §6.1).
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Header is what the data path reads of an IP packet's fixed header.
type Header struct {
	Src, Dst netip.Addr
	Len      int   // IPv4 IHL*4, or 40 for IPv6: extension headers are not walked
	Proto    uint8 // IPv4 protocol, or the IPv6 next header
}

// ParseHeader reads the fixed header of the IPv4 or IPv6 packet ip,
// checking that it is complete and that its length field equals len(ip).
// It is the per-packet fast path of the tunnel, which needs no more; Parse
// reads the whole header chain and the transport header. The error is
// ErrVersion, ErrShort, ErrHeader or ErrLength.
func ParseHeader(ip []byte) (Header, error) {
	var h Header
	if len(ip) < IPv4HdrLen {
		return h, ErrShort
	}
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		switch {
		case ihl < IPv4HdrLen:
			return h, ErrHeader
		case len(ip) < ihl:
			return h, ErrShort
		case int(binary.BigEndian.Uint16(ip[2:])) != len(ip):
			return h, ErrLength
		}
		h.Src = netip.AddrFrom4([4]byte(ip[12:16]))
		h.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		h.Len, h.Proto = ihl, ip[9]
	case 6:
		switch {
		case len(ip) < IPv6HdrLen:
			return h, ErrShort
		case int(binary.BigEndian.Uint16(ip[4:]))+IPv6HdrLen != len(ip):
			return h, ErrLength
		}
		h.Src = netip.AddrFrom16([16]byte(ip[8:24]))
		h.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		h.Len, h.Proto = IPv6HdrLen, ip[6]
	default:
		return h, ErrVersion
	}
	return h, nil
}

// L4Len is the length of the TCP or UDP header that follows h in ip, or 0
// when h.Proto is another protocol or the header is incomplete.
func (h Header) L4Len(ip []byte) int {
	switch h.Proto {
	case ProtoTCP:
		if len(ip) < h.Len+TCPHdrLen {
			return 0
		}
		n := int(ip[h.Len+12]>>4) * 4
		if n < TCPHdrLen || len(ip) < h.Len+n {
			return 0
		}
		return n
	case ProtoUDP:
		if len(ip) < h.Len+UDPHdrLen {
			return 0
		}
		return UDPHdrLen
	}
	return 0
}

// Ports returns the source and destination port of a TCP or UDP packet
// ip with fixed header h; ok is false for other protocols or when the
// ports are not in ip.
func (h Header) Ports(ip []byte) (src, dst uint16, ok bool) {
	if (h.Proto != ProtoTCP && h.Proto != ProtoUDP) || len(ip) < h.Len+4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(ip[h.Len:]), binary.BigEndian.Uint16(ip[h.Len+2:]), true
}

// ECN codepoints of the IPv4 TOS and IPv6 traffic class low bits (RFC 3168 §5).
const (
	ECNNotECT = 0
	ECNCE     = 3
)

// MarkCE sets the ECN field of the IP packet ip to Congestion Experienced
// when it is ECN-capable (ECT(0), ECT(1) or already CE), fixing the IPv4
// header checksum, and reports whether it did: congestion is signalled to
// a packet that is not ECN-capable by dropping it instead (RFC 3168 §5).
func MarkCE(ip []byte) bool {
	if len(ip) < IPv4HdrLen {
		return false
	}
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		if ip[1]&3 == ECNNotECT || ihl < IPv4HdrLen || len(ip) < ihl {
			return false
		}
		ip[1] |= ECNCE
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], Checksum(ip[:ihl], 0))
		return true
	case 6:
		if (ip[1]>>4)&3 == ECNNotECT {
			return false
		}
		ip[1] |= ECNCE << 4
		return true
	}
	return false
}
