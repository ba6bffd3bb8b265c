package packet_test

import (
	"encoding/binary"
	"fmt"
)

// The checks in this file are deliberately naive and written out from the
// RFCs, sharing no code with the package: they are the independent
// verifier the package's checksums and lengths are tested against.

// refSum is the RFC 1071 sum, 16 bits at a time with end-around carry.
func refSum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return s
}

// verifyIP checks a complete, plain IPv4 or IPv6 packet without extension
// headers: length field, IPv4 header checksum, and for TCP, UDP, ICMP and
// ICMPv6 the transport checksum (with its pseudo-header).
func verifyIP(ip []byte) error {
	var src, dst, l4 []byte
	var proto uint8
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&15) * 4
		if int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			return fmt.Errorf("IPv4 total length %d, packet %d", binary.BigEndian.Uint16(ip[2:]), len(ip))
		}
		if refSum(ip[:ihl]) != 0xffff {
			return fmt.Errorf("IPv4 header checksum wrong")
		}
		src, dst, proto, l4 = ip[12:16], ip[16:20], ip[9], ip[ihl:]
	case 6:
		if int(binary.BigEndian.Uint16(ip[4:]))+40 != len(ip) {
			return fmt.Errorf("IPv6 payload length %d, packet %d", binary.BigEndian.Uint16(ip[4:]), len(ip))
		}
		src, dst, proto, l4 = ip[8:24], ip[24:40], ip[6], ip[40:]
	default:
		return fmt.Errorf("version %d", ip[0]>>4)
	}
	pseudo := make([]byte, 0, 40)
	pseudo = append(append(pseudo, src...), dst...)
	pseudo = append(pseudo, 0, proto, byte(len(l4)>>8), byte(len(l4)))
	var sum uint32
	switch proto {
	case 6:
		sum = refSum(append(pseudo, l4...))
	case 17:
		if binary.BigEndian.Uint16(l4[4:]) != uint16(len(l4)) {
			return fmt.Errorf("UDP length %d, datagram %d", binary.BigEndian.Uint16(l4[4:]), len(l4))
		}
		if binary.BigEndian.Uint16(l4[6:]) == 0 {
			return fmt.Errorf("UDP checksum missing")
		}
		sum = refSum(append(pseudo, l4...))
	case 1:
		sum = refSum(l4)
	case 58:
		sum = refSum(append(pseudo, l4...))
	default:
		return nil
	}
	if sum != 0xffff {
		return fmt.Errorf("protocol %d checksum wrong (sum %#04x)", proto, sum)
	}
	return nil
}
