// Package netif owns the host side of a tunnel: the TUN device (through
// golang.zx2c4.com/wireguard/tun, with virtio-net-header offloads), and the
// addresses, MTU, link state and routes of its interface (through netlink);
// for remote access (docs/hub-host.md) a hub's NAT table (StartNAT, through
// nftables), a dial-in client's lease and the pin to its hub (ClientLink),
// and the watch on the client's underlay (WatchUnderlay).
//
// The tunnel package sees a device only through the small Device interface
// below; netiftest holds an in-memory twin for tests without root.
package netif

import "errors"

// VirtioHdrLen is the size of struct virtio_net_hdr (include/uapi/linux/virtio_net.h),
// which prefixes every packet read from or written to a Device.
const VirtioHdrLen = 10

// MaxPacket is the largest packet a TUN hands over in one read: an IP
// super-packet of at most 64 KiB, plus its virtio header.
const MaxPacket = VirtioHdrLen + 65535

// Offload is a set of GSO types the kernel may hand us in Read, and that a
// peer accepts in writes.
type Offload uint8

const (
	OffloadTCPv4 Offload = 1 << iota // VIRTIO_NET_HDR_GSO_TCPV4
	OffloadTCPv6                     // VIRTIO_NET_HDR_GSO_TCPV6
	OffloadUDP                       // VIRTIO_NET_HDR_GSO_UDP_L4 (USO, Linux >= 6.2)
)

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("device closed")

// Device is a TUN device whose packets carry a virtio_net_hdr.
//
// Each packet, read or written, is VirtioHdrLen bytes of virtio_net_hdr in
// little-endian byte order followed by one IP packet, or one GSO
// super-packet when the header's gso_type says so.
type Device interface {
	// Name is the interface name.
	Name() string
	// MTU is the interface MTU.
	MTU() int
	// Read reads one packet with its header into b, which must hold MaxPacket
	// bytes. With wait false it returns 0, nil when no packet is queued;
	// with wait true it blocks until one is. One goroutine reads at a time.
	// After Close it returns ErrClosed.
	Read(b []byte, wait bool) (int, error)
	// Write writes one packet with its header; the kernel takes it whole or
	// not at all. Write may run concurrently with Read and with other Writes.
	// It does not keep b. After Close it returns ErrClosed.
	Write(b []byte) error
	// SetOffload tells the kernel which GSO types it may hand to Read.
	// Without any, Read yields only plain, fully checksummed packets.
	SetOffload(o Offload) error
	// Offload reports what the device can offload: the GSO types its kernel
	// accepts in Write (probed at creation), or none when offloads are off.
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
