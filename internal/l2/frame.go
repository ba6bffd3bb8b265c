// Package l2 is the layer-2 switching logic of TAP mode: the Ethernet
// header of a frame, the table of MAC addresses learned per port, and the
// forwarding decision of a learning switch whose ports are the local TAP
// device and the peers (docs/layer2.md).
//
// It does no I/O and reads no clock: callers hand it parsed headers and
// the time, so the data path decides without allocating and tests control
// every timer.
package l2

import (
	"encoding/binary"
	"net"
)

// Ethernet framing: IEEE 802.3 (header) and IEEE 802.1Q (tag). Frames
// cross the device and the tunnel without preamble or frame check sequence.
const (
	MACLen      = 6                      // an EUI-48 address
	HeaderLen   = 2*MACLen + 2           // destination, source, EtherType
	TagLen      = 4                      // an 802.1Q tag: TPID and TCI, between source and EtherType
	MaxOverhead = HeaderLen + TagLen     // a frame is at most MTU + MaxOverhead bytes long
	MaxFrame    = 65535                  // the longest frame tlsvpn carries: one frame fits a 16-bit length
	MaxMTU      = MaxFrame - MaxOverhead // the largest MTU of a TAP device, whose frames then fit MaxFrame
	TPIDVLAN    = 0x8100                 // the EtherType position holds this when an 802.1Q tag follows
	vidMask     = 0x0fff                 // VLAN identifier bits of a TCI
	groupBit    = 0x01                   // I/G bit of the first octet: multicast or broadcast
	localBit    = 0x02                   // U/L bit of the first octet: locally administered
	etherTypeAt = 2 * MACLen             // offset of the EtherType (or TPID)
	tciAt       = etherTypeAt + 2        // offset of the TCI in a tagged frame
	innerTypeAt = etherTypeAt + TagLen   // offset of the EtherType in a tagged frame
)

// MAC is an Ethernet (EUI-48) address. It is comparable, so it keys maps.
type MAC [MACLen]byte

// Broadcast is ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsGroup reports whether m is a group address (multicast or broadcast):
// its I/G bit, the least significant bit of the first octet, is set.
func (m MAC) IsGroup() bool { return m[0]&groupBit != 0 }

// IsLocal reports whether m is locally administered (the U/L bit is set).
func (m MAC) IsLocal() bool { return m[0]&localBit != 0 }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// ValidSource reports whether m may be a frame's source address: neither
// a group address nor zero, the rule Linux bridges apply on ingress.
func (m MAC) ValidSource() bool { return !m.IsGroup() && !m.IsZero() }

// LocalUnicast is m made a locally administered unicast address: the U/L
// bit set, the I/G bit cleared (IEEE 802-2014 section 8.2.2), for an
// address derived from something other than a vendor's assignment.
func (m MAC) LocalUnicast() MAC {
	m[0] = m[0]&^groupBit | localBit
	return m
}

// String formats m as six colon-separated hex octets, as `ip link` does.
func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// Header is the Ethernet header of a frame, with its 802.1Q tag if it has
// one (a single tag; an inner tag of a double-tagged frame is payload).
type Header struct {
	Dst, Src MAC
	// Tagged says an 802.1Q tag (TPID 0x8100) follows the source address.
	Tagged bool
	// TCI is the tag's control information (priority, DEI, VLAN ID) when
	// Tagged, else 0.
	TCI uint16
	// EtherType is the type of the payload (after the tag when Tagged).
	EtherType uint16
}

// Len is the header's length on the wire: HeaderLen, plus TagLen when
// tagged. The payload of the frame follows it.
func (h *Header) Len() int {
	if h.Tagged {
		return HeaderLen + TagLen
	}
	return HeaderLen
}

// VLAN is the VLAN identifier of the tag, 0 when untagged or priority-tagged.
func (h *Header) VLAN() uint16 { return h.TCI & vidMask }

// Parse reads the Ethernet header at the start of frame into h. It
// reports false, leaving h partly filled, when frame is too short for the
// header it announces. It allocates nothing and keeps no reference to frame.
func Parse(frame []byte, h *Header) bool {
	if len(frame) < HeaderLen {
		return false
	}
	copy(h.Dst[:], frame[0:MACLen])
	copy(h.Src[:], frame[MACLen:2*MACLen])
	typ := binary.BigEndian.Uint16(frame[etherTypeAt:])
	if typ != TPIDVLAN {
		h.Tagged, h.TCI, h.EtherType = false, 0, typ
		return true
	}
	if len(frame) < HeaderLen+TagLen {
		return false
	}
	h.Tagged = true
	h.TCI = binary.BigEndian.Uint16(frame[tciAt:])
	h.EtherType = binary.BigEndian.Uint16(frame[innerTypeAt:])
	return true
}

// Append appends h in wire form (h.Len() bytes) to b and returns the
// extended slice: the inverse of Parse, for building frames.
func (h *Header) Append(b []byte) []byte {
	b = append(b, h.Dst[:]...)
	b = append(b, h.Src[:]...)
	if h.Tagged {
		b = binary.BigEndian.AppendUint16(b, TPIDVLAN)
		b = binary.BigEndian.AppendUint16(b, h.TCI)
	}
	return binary.BigEndian.AppendUint16(b, h.EtherType)
}
