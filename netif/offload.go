package netif

import "strings"

// AllOffloads is every GSO type this package knows.
const AllOffloads = OffloadTCPv4 | OffloadTCPv6 | OffloadUDP

// String lists the types in o, as "tcp4,tcp6,udp", or "none".
func (o Offload) String() string {
	if o == 0 {
		return "none"
	}
	var parts []string
	for _, n := range []struct {
		bit  Offload
		name string
	}{{OffloadTCPv4, "tcp4"}, {OffloadTCPv6, "tcp6"}, {OffloadUDP, "udp"}} {
		if o&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	if rest := o &^ AllOffloads; rest != 0 {
		parts = append(parts, "unknown")
	}
	return strings.Join(parts, ",")
}
