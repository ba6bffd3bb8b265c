package tunnel

import (
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// Sparse-flow priority. Packets of flows that are not moving bulk data
// (pings, DNS, keystrokes, the ACKs of a transfer the other way) go to a
// connection's express queue, which its writer empties before each bulk
// batch: they do not wait behind a transfer. A flow counts as bulk for
// bulkMemory after it last sent a packet larger than expressMax; its small
// packets then stay in the bulk queue, so no flow is ever reordered.
const (
	expressMax = 256 // bytes of IP packet
	bulkMemory = 100 * time.Millisecond
	flowSlots  = 1024 // hash slots; a collision only costs priority
)

// flowTable remembers when each flow (by hash) last sent a large packet.
// Only the TUN reader touches it.
type flowTable struct {
	bulkAt [flowSlots]int64 // unix nanos
}

// express reports whether pkt (virtio header + IP packet, whose fixed IP
// header is hdr) may take the express queue, and records bulk flows. now
// is read once per batch.
func (f *flowTable) express(pkt []byte, hdr packet.Header, now int64) bool {
	ip := pkt[packet.VirtioHdrLen:]
	slot := flowHash(ip, hdr) % flowSlots
	if vh, _ := packet.ParseVirtioHdr(pkt); len(ip) > expressMax || vh.GSOType != packet.GSONone {
		f.bulkAt[slot] = now
		return false
	}
	return now-f.bulkAt[slot] > int64(bulkMemory)
}

// flowHash mixes addresses, protocol and (for TCP and UDP) ports.
func flowHash(ip []byte, hdr packet.Header) uint32 {
	h := uint32(2166136261)
	for _, c := range packet.Addrs(ip) {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ uint32(hdr.Proto)) * 16777619
	if sp, dp, ok := hdr.Ports(ip); ok {
		h = (h ^ (uint32(sp)<<16 | uint32(dp))) * 16777619
	}
	return h
}
