package packet

import "encoding/binary"

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h): what a TUN
// opened with IFF_VNET_HDR puts in front of every packet it reads and
// expects in front of every packet written. tlsvpn uses the 10-byte legacy
// layout in little-endian byte order (TUNSETVNETLE on big-endian hosts),
// which is also the layout of a packet frame on the wire (docs/protocol.md).
const VirtioHdrLen = 10

// virtio_net_hdr.flags.
const (
	// VirtioNeedsCsum (VIRTIO_NET_HDR_F_NEEDS_CSUM): the checksum from
	// CsumStart to the end, stored at CsumStart+CsumOffset, is still to be
	// computed; the field holds the pseudo-header sum (CHECKSUM_PARTIAL).
	VirtioNeedsCsum = 0x01
	// VirtioDataValid (VIRTIO_NET_HDR_F_DATA_VALID): the checksums were
	// verified (CHECKSUM_UNNECESSARY).
	VirtioDataValid = 0x02
)

// virtio_net_hdr.gso_type.
const (
	GSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE: a plain packet
	GSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4: TSO over IPv4
	GSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6: TSO over IPv6
	GSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4: USO over IPv4 or IPv6 (TUN: Linux >= 6.2)
	GSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: flag on a TCP type, the super-packet has CWR set
)

// VirtioHdr is struct virtio_net_hdr.
type VirtioHdr struct {
	Flags      uint8  // VirtioNeedsCsum, VirtioDataValid
	GSOType    uint8  // GSONone, GSOTCPv4, ...
	HdrLen     uint16 // length of the IP and transport headers of a super-packet
	GSOSize    uint16 // payload bytes per segment of a super-packet
	CsumStart  uint16 // with VirtioNeedsCsum: offset of the transport header in the IP packet
	CsumOffset uint16 // with VirtioNeedsCsum: offset of the checksum field from CsumStart
}

// ParseVirtioHdr reads the header at the start of b; ok is false when b is
// shorter than VirtioHdrLen.
func ParseVirtioHdr(b []byte) (h VirtioHdr, ok bool) {
	if len(b) < VirtioHdrLen {
		return h, false
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

// Put writes h into b[:VirtioHdrLen]; b must be that long.
func (h VirtioHdr) Put(b []byte) {
	_ = b[VirtioHdrLen-1]
	b[0], b[1] = h.Flags, h.GSOType
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
}

// Check reports whether h fits the IP packet ip, whose fixed header
// ParseHeader read as hdr, in the form a TUN reads and accepts, and
// returns the length of the IP and transport headers (what HdrLen should
// hold) for a super-packet, 0 for a plain packet. Otherwise the error is
// ErrGSO.
//
// A plain packet (GSONone) passes when a VirtioNeedsCsum checksum field
// lies inside it. A super-packet passes with: a known type whose IP
// version and protocol match the packet (TCPv4: IPv4 TCP, TCPv6: IPv6 TCP,
// both with or without GSOECN; UDP_L4: UDP over either), VirtioNeedsCsum,
// CsumStart at the transport header (so IPv6 extension headers are not
// supported), CsumOffset at the protocol's checksum field, a non-zero
// GSOSize, and a complete transport header. HdrLen itself is not checked:
// kernels fill it in differently (on a forwarding path it may cover the
// whole packet).
func (h VirtioHdr) Check(ip []byte, hdr Header) (int, error) {
	if h.GSOType == GSONone {
		if h.Flags&VirtioNeedsCsum != 0 && int(h.CsumStart)+int(h.CsumOffset)+2 > len(ip) {
			return 0, ErrGSO
		}
		return 0, nil
	}
	proto, csumOff := uint8(ProtoTCP), uint16(TCPCsumOffset)
	switch h.GSOType &^ GSOECN {
	case GSOTCPv4:
		if !hdr.Src.Is4() {
			return 0, ErrGSO
		}
	case GSOTCPv6:
		if hdr.Src.Is4() {
			return 0, ErrGSO
		}
	case GSOUDPL4:
		if h.GSOType&GSOECN != 0 {
			return 0, ErrGSO
		}
		proto, csumOff = ProtoUDP, UDPCsumOffset
	default:
		return 0, ErrGSO
	}
	l4 := hdr.L4Len(ip)
	if l4 == 0 || hdr.Proto != proto || h.Flags&VirtioNeedsCsum == 0 ||
		int(h.CsumStart) != hdr.Len || h.CsumOffset != csumOff || h.GSOSize == 0 {
		return 0, ErrGSO
	}
	return hdr.Len + l4, nil
}

// SetPartial puts the super-packet pkt (virtio header and IP packet),
// delivered without VirtioNeedsCsum, into the partial-checksum form a TUN
// write of a super-packet requires: VirtioNeedsCsum, CsumStart at the
// transport header, CsumOffset at its checksum field, and the
// pseudo-header sum in that field. The kernel hands such packets out with
// VirtioDataValid after GRO on a forwarding path. hdr is the fixed IP
// header as ParseHeader read it. The error is ErrGSO when the transport is
// not TCP or UDP or its header is incomplete; pkt is then unchanged.
func SetPartial(pkt []byte, hdr Header) error {
	h, ok := ParseVirtioHdr(pkt)
	if !ok {
		return ErrGSO
	}
	ip := pkt[VirtioHdrLen:]
	if hdr.L4Len(ip) == 0 {
		return ErrGSO
	}
	h.Flags |= VirtioNeedsCsum
	h.CsumStart = uint16(hdr.Len)
	h.CsumOffset = TCPCsumOffset
	if hdr.Proto == ProtoUDP {
		h.CsumOffset = UDPCsumOffset
	}
	h.Put(pkt)
	sum := PseudoSum(ip, hdr.Proto, len(ip)-hdr.Len)
	binary.BigEndian.PutUint16(ip[hdr.Len+int(h.CsumOffset):], sum)
	return nil
}
