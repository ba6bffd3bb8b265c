// Package netif owns the host side of a tunnel: the TUN device (through
// golang.zx2c4.com/wireguard/tun, with virtio-net-header offloads) or the
// TAP device (through github.com/songgao/water, optionally a bridge port),
// and the addresses, MTU, link state and routes of its interface (through
// netlink); for remote access (docs/hub-host.md) a hub's NAT table
// (StartNAT, through nftables), a dial-in client's lease and the pin to its
// hub (ClientLink), the watch on the client's underlay (WatchUnderlay) and
// its DNS in systemd-resolved (ResolvedLink).
//
// The tunnel package sees a device only through the small Device interface
// below, which says by its Kind whether it carries IP packets or Ethernet
// frames; netiftest holds an in-memory twin of each for tests without root.
package netif

import (
	"errors"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// VirtioHdrLen is the size of the virtio_net_hdr (internal/packet) that
// prefixes every packet read from or written to a Device.
const VirtioHdrLen = packet.VirtioHdrLen

// MaxPacket is the largest packet a TUN hands over in one read: an IP
// super-packet of at most 64 KiB, plus its virtio header. It also holds
// the largest TAP frame (see KindTAP and TAPConfig.MTU).
const MaxPacket = VirtioHdrLen + 65535

// Offload is a set of GSO types the kernel may hand us in Read, and that a
// peer accepts in writes. offload.go maps each to its name and virtio
// gso_type.
type Offload uint8

const (
	OffloadTCPv4 Offload = 1 << iota // "tcpv4": TSO over IPv4
	OffloadTCPv6                     // "tcpv6": TSO over IPv6
	OffloadUDP                       // "udp": USO over IPv4 and IPv6 (Linux >= 6.2)
)

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("device closed")

// Kind says what a Device's Reads and Writes carry.
type Kind uint8

const (
	// KindTUN: each packet, read or written, is VirtioHdrLen bytes of
	// virtio_net_hdr in little-endian byte order followed by one IP
	// packet, or one GSO super-packet when the header's gso_type says so.
	KindTUN Kind = iota + 1
	// KindTAP: each frame, read or written, is one whole Ethernet frame
	// from its destination MAC on, without preamble or frame check
	// sequence, of at most MTU + 14 bytes, or MTU + 18 with an 802.1Q tag
	// (l2.MaxOverhead). No header precedes it and nothing is offloaded:
	// the kernel segments and checksums before a Read.
	KindTAP
)

// String is the kind's name as `[interface] mode` spells it: "tun" or "tap".
func (k Kind) String() string {
	switch k {
	case KindTUN:
		return "tun"
	case KindTAP:
		return "tap"
	}
	return "unknown"
}

// Device is a TUN or TAP device. Kind says which, and so the form of
// every packet or frame it reads and writes; the descriptions below say
// "packet" for both.
type Device interface {
	// Name is the interface name.
	Name() string
	// Kind says whether the device carries IP packets behind a
	// virtio_net_hdr (KindTUN) or Ethernet frames (KindTAP). It never
	// changes.
	Kind() Kind
	// MTU is the interface MTU.
	MTU() int
	// Read reads one packet, in the form Kind says, into b, which must
	// hold MaxPacket bytes. With wait false it returns 0, nil when no packet is queued;
	// with wait true it blocks until one is. One goroutine reads at a time.
	// After Close it returns ErrClosed.
	Read(b []byte, wait bool) (int, error)
	// Write writes one packet, in the form Kind says; the kernel takes it whole or
	// not at all. Write may run concurrently with Read and with other Writes.
	// It does not keep b. After Close it returns ErrClosed.
	Write(b []byte) error
	// SetOffload tells the kernel which GSO types it may hand to Read.
	// Without any, Read yields only plain, fully checksummed packets. A
	// TAP device has none to set.
	SetOffload(o Offload) error
	// Offload reports what the device can offload: the GSO types its kernel
	// accepts in Write (probed at creation), or none when offloads are off
	// or the device is a TAP.
	Offload() Offload
	// Close closes the device; blocked Reads return ErrClosed.
	Close() error
}

// BatchWriter is a Device that writes many packets at once, which lets it
// coalesce them; the tunnel uses it when a device offers it.
type BatchWriter interface {
	// WriteBatch writes pkts, each a virtio header and a packet, as Write
	// does; it does not keep them.
	WriteBatch(pkts [][]byte) error
}
