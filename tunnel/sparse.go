package tunnel

import (
	"encoding/binary"
	"time"

	"github.com/tlsvpn/tlsvpn/netif"
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

// express reports whether pkt (virtio header + IP packet) may take the
// express queue, and records bulk flows. now is read once per batch.
func (f *flowTable) express(pkt []byte, info ipInfo, now int64) bool {
	ip := pkt[netif.VirtioHdrLen:]
	slot := flowHash(ip, info) % flowSlots
	if len(ip) > expressMax || parseVnet(pkt).gsoType != gsoNone {
		f.bulkAt[slot] = now
		return false
	}
	return now-f.bulkAt[slot] > int64(bulkMemory)
}

// flowHash mixes addresses, protocol and (for TCP and UDP) ports.
func flowHash(ip []byte, info ipInfo) uint32 {
	h := uint32(2166136261)
	mix := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
	}
	if info.src.Is4() {
		mix(ip[12:20])
	} else {
		mix(ip[8:40])
	}
	mix([]byte{info.proto}) // does not escape: the closure is inlined
	if (info.proto == protoTCP || info.proto == protoUDP) && len(ip) >= info.hdrLen+4 {
		h = (h ^ binary.BigEndian.Uint32(ip[info.hdrLen:])) * 16777619
	}
	return h
}
