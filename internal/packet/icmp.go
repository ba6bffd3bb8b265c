package packet

import "net/netip"

// PutICMP writes into b an ICMP (IPv4) or ICMPv6 (IPv6) message of type
// typ and code from src to dst, with rest as the 4-byte rest of the header
// (an error's unused word or MTU, an echo's identifier and sequence
// number) followed by data (an error's quoted packet), and returns the
// packet's length: IP header without options, TTL/hop limit 64, IPv4 with
// DF and ID 0, every length and checksum filled in. It returns 0, writing
// nothing, when b is too small, the packet would be too large for its
// length field, or src and dst are not valid addresses of one family.
//
// Unlike the builders it allocates nothing and never panics: it is for
// answers made on the data path (internal/filter's). data must not overlap
// b.
func PutICMP(b []byte, src, dst netip.Addr, typ, code uint8, rest [4]byte, data []byte) int {
	if !src.IsValid() || src.Is4() != dst.Is4() || src.Is4In6() || dst.Is4In6() {
		return 0
	}
	hl, proto, most := IPv4HdrLen, uint8(ProtoICMP), 0xffff // IPv4 total length
	if !src.Is4() {
		hl, proto, most = IPv6HdrLen, ProtoICMPv6, IPv6HdrLen+0xffff // IPv6 payload length
	}
	n := hl + ICMPHdrLen + len(data)
	if len(b) < n || n > most {
		return 0
	}
	b = b[:n]
	clear(b[:hl+ICMPHdrLen])
	if proto == ProtoICMP {
		putIPv4(b, src, dst, proto)
	} else {
		putIPv6(b, src, dst, proto)
	}
	m := b[hl:]
	m[0], m[1] = typ, code
	copy(m[4:ICMPHdrLen], rest[:])
	copy(m[ICMPHdrLen:], data)
	var pseudo uint16
	if proto == ProtoICMPv6 {
		pseudo = PseudoSum(b, proto, len(m))
	}
	m[2], m[3] = 0, 0
	c := Checksum(m, pseudo)
	m[2], m[3] = byte(c>>8), byte(c)
	return n
}
