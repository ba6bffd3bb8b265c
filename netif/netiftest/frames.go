package netiftest

import (
	"encoding/binary"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// EtherTypes (IEEE 802 numbers) for EthernetFrame.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// ARP operations (RFC 826).
const (
	ARPRequest = 1
	ARPReply   = 2
)

// arpLen is the size of an ARP packet for IPv4 over Ethernet.
const arpLen = 28

// EthernetFrame returns a new frame: the header h (with an 802.1Q tag when
// h.Tagged) followed by payload. Feed it to a TAP Device's Inject or to a
// real TAP's Write.
func EthernetFrame(h l2.Header, payload []byte) []byte {
	b := make([]byte, 0, h.Len()+len(payload))
	return append(h.Append(b), payload...)
}

// ARP returns an ARP packet for IPv4 over Ethernet (RFC 826) with
// operation op (ARPRequest or ARPReply), from sender to target; a
// request's target MAC is zero. Wrap it with EthernetFrame (EtherTypeARP).
// It panics when an address is not IPv4.
func ARP(op uint16, senderMAC l2.MAC, sender netip.Addr, targetMAC l2.MAC, target netip.Addr) []byte {
	if !sender.Is4() || !target.Is4() {
		panic("netiftest.ARP: sender and target must be IPv4 addresses")
	}
	b := make([]byte, 0, arpLen)
	b = binary.BigEndian.AppendUint16(b, 1) // hardware type: Ethernet
	b = binary.BigEndian.AppendUint16(b, EtherTypeIPv4)
	b = append(b, l2.MACLen, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, senderMAC[:]...)
	b = append(b, sender.AsSlice()...)
	b = append(b, targetMAC[:]...)
	return append(b, target.AsSlice()...)
}

// ParseARP reads an ARP packet for IPv4 over Ethernet, the payload of an
// EtherTypeARP frame; ok is false for anything else.
func ParseARP(p []byte) (op uint16, senderMAC l2.MAC, sender netip.Addr, targetMAC l2.MAC, target netip.Addr, ok bool) {
	if len(p) < arpLen || binary.BigEndian.Uint16(p[0:]) != 1 ||
		binary.BigEndian.Uint16(p[2:]) != EtherTypeIPv4 || p[4] != l2.MACLen || p[5] != 4 {
		return 0, l2.MAC{}, netip.Addr{}, l2.MAC{}, netip.Addr{}, false
	}
	copy(senderMAC[:], p[8:14])
	copy(targetMAC[:], p[18:24])
	sender = netip.AddrFrom4([4]byte(p[14:18]))
	target = netip.AddrFrom4([4]byte(p[24:28]))
	return binary.BigEndian.Uint16(p[6:]), senderMAC, sender, targetMAC, target, true
}
