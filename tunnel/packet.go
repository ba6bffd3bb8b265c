package tunnel

import (
	"encoding/binary"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/netif"
)

// virtio_net_hdr fields (include/uapi/linux/virtio_net.h). The header is
// little-endian on the wire and on the hosts we run on.
const (
	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM

	gsoNone   = 0    // VIRTIO_NET_HDR_GSO_NONE
	gsoTCPv4  = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	gsoTCPv6  = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	gsoUDPL4  = 5    // VIRTIO_NET_HDR_GSO_UDP_L4
	gsoECNBit = 0x80 // VIRTIO_NET_HDR_GSO_ECN

	protoTCP = 6
	protoUDP = 17

	tcpCsumOffset = 16
	udpCsumOffset = 6
)

type vnetHdr struct {
	flags, gsoType                         uint8
	hdrLen, gsoSize, csumStart, csumOffset uint16
}

func parseVnet(b []byte) vnetHdr {
	_ = b[9]
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.LittleEndian.Uint16(b[2:]),
		gsoSize:    binary.LittleEndian.Uint16(b[4:]),
		csumStart:  binary.LittleEndian.Uint16(b[6:]),
		csumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
}

func (h vnetHdr) put(b []byte) {
	_ = b[9]
	b[0], b[1] = h.flags, h.gsoType
	binary.LittleEndian.PutUint16(b[2:], h.hdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.gsoSize)
	binary.LittleEndian.PutUint16(b[6:], h.csumStart)
	binary.LittleEndian.PutUint16(b[8:], h.csumOffset)
}

// gsoOffload maps a gso_type to the Offload bit a peer must accept for it.
func gsoOffload(t uint8) netif.Offload {
	switch t {
	case gsoTCPv4:
		return netif.OffloadTCPv4
	case gsoTCPv6:
		return netif.OffloadTCPv6
	case gsoUDPL4:
		return netif.OffloadUDP
	}
	return 0
}

// ipInfo is what the data path needs of an IP header.
type ipInfo struct {
	src, dst netip.Addr
	hdrLen   int   // IPv4 IHL*4, or 40 for IPv6
	proto    uint8 // IPv4 protocol or IPv6 next header
}

// parseIP reads the addresses of ip, checking that the header fits and
// the length field matches len(ip). ok is false for anything malformed.
func parseIP(ip []byte) (info ipInfo, ok bool) {
	if len(ip) < 20 {
		return info, false
	}
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl || int(binary.BigEndian.Uint16(ip[2:])) != len(ip) {
			return info, false
		}
		info.src = netip.AddrFrom4([4]byte(ip[12:16]))
		info.dst = netip.AddrFrom4([4]byte(ip[16:20]))
		info.hdrLen, info.proto = ihl, ip[9]
	case 6:
		if len(ip) < 40 || int(binary.BigEndian.Uint16(ip[4:]))+40 != len(ip) {
			return info, false
		}
		info.src = netip.AddrFrom16([16]byte(ip[8:24]))
		info.dst = netip.AddrFrom16([16]byte(ip[24:40]))
		info.hdrLen, info.proto = 40, ip[6]
	default:
		return info, false
	}
	return info, true
}

// l4HdrLen is the transport header length of a GSO packet, or 0 if it
// does not fit in ip.
func l4HdrLen(ip []byte, info ipInfo) int {
	switch info.proto {
	case protoTCP:
		if len(ip) < info.hdrLen+20 {
			return 0
		}
		n := int(ip[info.hdrLen+12]>>4) * 4
		if n < 20 || len(ip) < info.hdrLen+n {
			return 0
		}
		return n
	case protoUDP:
		if len(ip) < info.hdrLen+8 {
			return 0
		}
		return 8
	}
	return 0
}

// checkInbound validates a packet frame's payload (virtio header + IP
// packet) received from a peer before it goes to the kernel, and
// normalises hdr_len in place. accept is what this node advertised.
func checkInbound(frame []byte, accept netif.Offload, mtu int, allowedIPs []netip.Prefix) dropReason {
	if len(frame) < netif.VirtioHdrLen {
		return dropMalformed
	}
	h := parseVnet(frame)
	ip := frame[netif.VirtioHdrLen:]
	info, ok := parseIP(ip)
	if !ok {
		return dropMalformed
	}
	if !allowed(allowedIPs, info.src) {
		return dropSource
	}
	if h.gsoType == gsoNone {
		if len(ip) > mtu {
			return dropMalformed
		}
		if h.flags&vnetNeedsCsum != 0 && int(h.csumStart)+int(h.csumOffset)+2 > len(ip) {
			return dropMalformed
		}
		h.hdrLen = 0
		h.put(frame)
		return dropNone
	}
	off := gsoOffload(h.gsoType)
	if off == 0 || accept&off == 0 {
		return dropGSO
	}
	l4 := l4HdrLen(ip, info)
	wantProto, wantCsum, wantV4 := uint8(protoTCP), uint16(tcpCsumOffset), h.gsoType == gsoTCPv4
	if h.gsoType == gsoUDPL4 {
		wantProto, wantCsum, wantV4 = protoUDP, udpCsumOffset, info.src.Is4()
	}
	switch {
	case l4 == 0, info.proto != wantProto, info.src.Is4() != wantV4,
		h.flags&vnetNeedsCsum == 0, int(h.csumStart) != info.hdrLen, h.csumOffset != wantCsum,
		h.gsoSize == 0, int(h.gsoSize) > mtu-info.hdrLen-l4:
		return dropMalformed
	}
	h.hdrLen = uint16(info.hdrLen + l4)
	h.put(frame)
	return dropNone
}

// fixOutbound prepares a packet read from the TUN for the wire: a GSO
// packet without NEEDS_CSUM (delivered as already checked, e.g. after GRO
// on a forwarding path) gets the partial-checksum form the far kernel
// requires. It reports false for packets that cannot be sent.
func fixOutbound(frame []byte, info ipInfo) bool {
	h := parseVnet(frame)
	if h.gsoType == gsoNone || h.flags&vnetNeedsCsum != 0 {
		return true
	}
	ip := frame[netif.VirtioHdrLen:]
	l4 := l4HdrLen(ip, info)
	if l4 == 0 {
		return false
	}
	h.flags |= vnetNeedsCsum
	h.csumStart = uint16(info.hdrLen)
	h.csumOffset = tcpCsumOffset
	if info.proto == protoUDP {
		h.csumOffset = udpCsumOffset
	}
	h.put(frame)
	sum := pseudoHeaderSum(ip, info, len(ip)-info.hdrLen)
	binary.BigEndian.PutUint16(ip[int(h.csumStart)+int(h.csumOffset):], sum)
	return true
}

// pseudoHeaderSum is the folded, not complemented, one's-complement sum
// of the TCP/UDP pseudo-header: what a CHECKSUM_PARTIAL packet carries in
// its checksum field.
func pseudoHeaderSum(ip []byte, info ipInfo, l4len int) uint16 {
	var sum uint32
	addrs := ip[12:20]
	if info.dst.Is6() {
		addrs = ip[8:40]
	}
	for i := 0; i+1 < len(addrs); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(addrs[i:]))
	}
	sum += uint32(info.proto) + uint32(l4len)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
