package netif

import (
	"crypto/sha256"
	"net"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// macLabel separates StableMAC's hash from any other use of SHA-256 over
// the same names.
const macLabel = "tlsvpn TAP MAC v1"

// StableMAC is the MAC address of the TAP device iface on the node called
// node: the first six bytes of SHA-256(macLabel 0x00 node 0x00 iface),
// with the first octet's U/L bit set and its I/G bit cleared, so that it
// is a locally administered unicast address (IEEE 802-2014 section 8.2.2).
// It is the same at every start, so neighbours' ARP and bridge tables
// stay right across restarts; different node or interface names give
// different addresses (a collision among n nodes has odds of about
// n²/2^47).
func StableMAC(node, iface string) net.HardwareAddr {
	h := sha256.New()
	h.Write([]byte(macLabel))
	h.Write([]byte{0})
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(iface))
	var mac l2.MAC
	copy(mac[:], h.Sum(nil))
	mac = mac.LocalUnicast()
	return mac[:]
}
