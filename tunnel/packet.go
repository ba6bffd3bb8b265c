package tunnel

import (
	"net/netip"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
)

// The tunnel's policy on packets; the formats themselves (virtio header,
// IP headers, checksums) are internal/packet's.

// checkInbound validates a packet frame's payload (virtio header + IP
// packet) received from a peer before it goes to the kernel, and
// normalises hdr_len in place. accept is what this node advertised.
func checkInbound(frame []byte, accept netif.Offload, mtu int, allowedIPs []netip.Prefix) dropReason {
	h, ok := packet.ParseVirtioHdr(frame)
	if !ok {
		return dropMalformed
	}
	ip := frame[packet.VirtioHdrLen:]
	hdr, err := packet.ParseHeader(ip)
	if err != nil {
		return dropMalformed
	}
	if !allowed(allowedIPs, hdr.Src) {
		return dropSource
	}
	if h.GSOType != packet.GSONone {
		if off := netif.GSOOffload(h.GSOType); off == 0 || accept&off == 0 {
			return dropGSO
		}
	}
	hdrLen, err := h.Check(ip, hdr)
	largest := len(ip) // the largest packet the kernel will send on
	if h.GSOType != packet.GSONone {
		largest = hdrLen + int(h.GSOSize)
	}
	if err != nil || largest > mtu {
		return dropMalformed
	}
	h.HdrLen = uint16(hdrLen)
	h.Put(frame)
	return dropNone
}

// fixOutbound prepares a packet read from the TUN for the wire: a GSO
// packet without NEEDS_CSUM (delivered as already checked, e.g. after GRO
// on a forwarding path) gets the partial-checksum form the far kernel
// requires. It reports false for packets that cannot be sent.
func fixOutbound(frame []byte, hdr packet.Header) bool {
	h, _ := packet.ParseVirtioHdr(frame)
	if h.GSOType == packet.GSONone || h.Flags&packet.VirtioNeedsCsum != 0 {
		return true
	}
	return packet.SetPartial(frame, hdr) == nil
}
