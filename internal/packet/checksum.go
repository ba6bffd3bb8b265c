package packet

import "gvisor.dev/gvisor/pkg/tcpip/checksum"

// The Internet checksum (RFC 1071) is the one implementation of gVisor's
// tcpip/checksum (already in the module graph through
// golang.zx2c4.com/wireguard, whose own is unexported): word-at-a-time
// sums with end-around carry, several times faster than a 16-bit loop.
// Sums here are folded to 16 bits and not complemented; a checksum field
// holds the complement (Checksum).

// Sum adds b, as big-endian 16-bit words with an odd last byte padded with
// zero, to the sum initial and returns the folded one's-complement sum.
// initial must be a sum over an even number of bytes (or 0).
func Sum(b []byte, initial uint16) uint16 { return checksum.Checksum(b, initial) }

// Add is the one's-complement sum of two sums; a must be over an even
// number of bytes.
func Add(a, b uint16) uint16 { return checksum.Combine(a, b) }

// Checksum is the value of a checksum field over b on top of the sum
// initial (a pseudo-header sum, or 0): the complement of Sum. Over data
// that includes a correct checksum field it is 0.
func Checksum(b []byte, initial uint16) uint16 { return ^Sum(b, initial) }

// PseudoSum is the sum of the pseudo-header of TCP (RFC 9293 §3.1), UDP
// (RFC 768) and ICMPv6 (RFC 8200 §8.1) for a transport packet of length
// bytes and protocol proto inside the IP packet ip, whose fixed header
// (ParseHeader) must be complete. A packet with VirtioNeedsCsum carries
// this sum in its checksum field.
func PseudoSum(ip []byte, proto uint8, length int) uint16 {
	return Add(Sum(Addrs(ip), 0), Add(uint16(proto), Add(uint16(length>>16), uint16(length))))
}

// Addrs returns the source and destination address of the IP packet ip,
// back to back as they are in its fixed header: 8 bytes for IPv4, 32 for
// IPv6. ip's fixed header must be complete.
func Addrs(ip []byte) []byte {
	if ip[0]>>4 == 4 {
		return ip[12:20]
	}
	return ip[8:40]
}
