package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Probe packets: two segments of probeSegment bytes each, from the
// loopback address to itself. A loopback source arriving on a TUN is a
// martian, so the kernel validates the virtio header on write and then
// drops the packet in IP input: nothing reaches a socket or leaves the host.
const probeSegment = 64

// maxDrain bounds how many queued packets drain discards.
const maxDrain = 4096

var (
	probeV4 = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 9)
	probeV6 = netip.AddrPortFrom(netip.IPv6Loopback(), 9)
)

// probePackets returns one synthetic GSO write per type in o.
func probePackets(o Offload) map[Offload][]byte {
	payload := make([]byte, 2*probeSegment)
	pkts := map[Offload][]byte{}
	if o&OffloadTCPv4 != 0 {
		pkts[OffloadTCPv4] = packet.TCPSuper(probeV4, probeV4, 1, probeSegment, payload)
	}
	if o&OffloadTCPv6 != 0 {
		pkts[OffloadTCPv6] = packet.TCPSuper(probeV6, probeV6, 1, probeSegment, payload)
	}
	if o&OffloadUDP != 0 {
		pkts[OffloadUDP] = packet.UDPSuper(probeV4, probeV4, probeSegment, payload)
	}
	return pkts
}

// probe writes one GSO super-packet of each type in o and returns the types
// the kernel accepted. EINVAL is the kernel refusing that GSO type (the
// regression of Linux e269d79c7d35, for one); any other failure also leaves
// the type out, with a warning. A TUN only takes writes while up, so the
// link is set up for the probe and down again after it.
func (t *TUN) probe(o Offload) (Offload, error) {
	restore, err := t.upForProbe()
	if err != nil {
		return 0, err
	}
	var ok Offload
	for typ, pkt := range probePackets(o) {
		err := t.Write(pkt)
		switch {
		case err == nil:
			ok |= typ
		case errors.Is(err, unix.EINVAL):
			t.log.Info("kernel refuses GSO writes of this type; not offered to peers",
				"interface", t.name, "gso", typ.String())
		default:
			t.log.Warn("GSO write probe failed; type not offered to peers",
				"interface", t.name, "gso", typ.String(), "err", err)
		}
	}
	if err := restore(); err != nil {
		return 0, err
	}
	return ok, t.drain()
}

// drain discards what the kernel queued while the link was up for the
// probe (IPv6 router solicitations and the like): a down link queues
// nothing new, but it keeps what is queued.
func (t *TUN) drain() error {
	buf := make([]byte, MaxPacket)
	for range maxDrain {
		n, err := t.Read(buf, false)
		if errors.Is(err, ErrTruncated) {
			continue
		}
		if err != nil {
			return fmt.Errorf("drain %s after the GSO probe: %w", t.name, err)
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

// upForProbe sets the link up when it is down and returns a function that
// puts it back down.
func (t *TUN) upForProbe() (restore func() error, err error) {
	link, err := netlink.LinkByName(t.name)
	if err != nil {
		return nil, fmt.Errorf("look up interface %s: %w", t.name, err)
	}
	if link.Attrs().Flags&net.FlagUp != 0 {
		return func() error { return nil }, nil
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("set %s up for the GSO probe: %w", t.name, err)
	}
	return func() error {
		if err := netlink.LinkSetDown(link); err != nil {
			return fmt.Errorf("set %s down after the GSO probe: %w", t.name, err)
		}
		return nil
	}, nil
}
