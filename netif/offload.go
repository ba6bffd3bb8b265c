package netif

import (
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// AllOffloads is every GSO type this package knows.
const AllOffloads = OffloadTCPv4 | OffloadTCPv6 | OffloadUDP

// offloadTypes is the one table of GSO types: the Offload bit, its name in
// the parameter exchange (docs/protocol.md), status and logs, and the
// virtio gso_type of its super-packets.
var offloadTypes = [...]struct {
	bit  Offload
	name string
	gso  uint8
}{
	{OffloadTCPv4, "tcpv4", packet.GSOTCPv4},
	{OffloadTCPv6, "tcpv6", packet.GSOTCPv6},
	{OffloadUDP, "udp", packet.GSOUDPL4},
}

// Names lists the types in o by their protocol names ("tcpv4", "tcpv6",
// "udp"); an empty, non-nil list for none.
func (o Offload) Names() []string {
	names := []string{}
	for _, t := range offloadTypes {
		if o&t.bit != 0 {
			names = append(names, t.name)
		}
	}
	return names
}

// String lists the types in o as "tcpv4,tcpv6,udp", or "none".
func (o Offload) String() string {
	if o == 0 {
		return "none"
	}
	names := o.Names()
	if o&^AllOffloads != 0 {
		names = append(names, "unknown")
	}
	return strings.Join(names, ",")
}

// OffloadFromNames is the set of the types named in names, as a peer lists
// them in the parameter exchange. Names it does not know are left out: a
// newer peer may accept types this node cannot send.
func OffloadFromNames(names []string) Offload {
	var o Offload
	for _, n := range names {
		for _, t := range offloadTypes {
			if n == t.name {
				o |= t.bit
			}
		}
	}
	return o
}

// GSOOffload is the Offload bit a receiver must accept for a super-packet
// of virtio gso_type t, or 0 when t is GSONone, unknown, or carries the
// ECN flag (which TUN never hands out: tlsvpn does not set TUN_F_TSO_ECN).
func GSOOffload(t uint8) Offload {
	for _, e := range offloadTypes {
		if t == e.gso {
			return e.bit
		}
	}
	return 0
}
