package netif

import (
	"log/slog"
	"net"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// MTU limits of the interfaces.
const (
	minMTU = 68    // IPv4 minimum (RFC 791); the kernel refuses less
	maxMTU = 65535 // the largest IP packet

	// MaxTAPMTU is the largest MTU of a TAP device: its largest frame,
	// MTU + l2.MaxOverhead, then fits in l2.MaxFrame bytes, and so in
	// MaxPacket.
	MaxTAPMTU = l2.MaxMTU
)

// TUNConfig says how CreateTUN makes a TUN device.
type TUNConfig struct {
	// Name is the interface name, 1 to 15 bytes. CreateTUN refuses a name
	// that is already taken.
	Name string
	// MTU is the interface MTU, 68 to 65535.
	MTU int
	// Offload enables GSO/checksum offloads. When false the device is set
	// to TUNSETOFFLOAD(0) for good: Read yields only plain, fully
	// checksummed packets, Offload() is 0 and SetOffload keeps it so.
	Offload bool
	// TxQueueLen is the interface's transmit queue length (the kernel-side
	// ring of packets waiting for Read); 0 leaves the kernel default.
	TxQueueLen int
	// Logger receives the probe result and teardown problems; nil means
	// slog.Default().
	Logger *slog.Logger
}

// LinkConfig is the host configuration Configure applies to an interface.
type LinkConfig struct {
	// Addresses are the interface's own addresses with their prefix
	// length, IPv4 or IPv6 (e.g. 100.64.0.1/24, fd64::1/64).
	Addresses []netip.Prefix
	// Routes are prefixes routed through the interface: the allowed IPs
	// not already covered by the interface's own prefixes.
	Routes []netip.Prefix
}

// TAPConfig says how CreateTAP makes a TAP device.
type TAPConfig struct {
	// Name is the interface name, 1 to 15 bytes. CreateTAP refuses a name
	// that is already taken, a persistent TAP device included.
	Name string
	// MTU is the interface MTU, 68 to MaxTAPMTU.
	MTU int
	// MAC is the interface's Ethernet address: a unicast address, normally
	// StableMAC(node, Name) so that it survives restarts.
	MAC net.HardwareAddr
	// Bridge, when not empty, names an existing bridge the device joins
	// as a port; CreateTAP refuses a missing bridge or an interface that
	// is not a bridge.
	Bridge string
	// TxQueueLen is the interface's transmit queue length; 0 leaves the
	// kernel default.
	TxQueueLen int
	// Logger receives the creation line; nil means slog.Default().
	Logger *slog.Logger
}

// DNSConfig is the DNS a link gets in systemd-resolved (ResolvedLink).
type DNSConfig struct {
	// Servers are the link's DNS servers, in order of preference. IPv6
	// ones are reached over the link, whatever their zone.
	Servers []netip.Addr
	// Domains are search domains: single-label names are tried with them,
	// and names under them are resolved through this link only.
	Domains []string
	// DefaultRoute makes the link's servers answer names outside Domains
	// too. Only a tunnel that carries the default route should: otherwise
	// the names of the rest of the world would go through the tunnel's
	// servers.
	DefaultRoute bool
}
