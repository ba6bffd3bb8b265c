package netiftest

import "github.com/tlsvpn/tlsvpn/netif"

// NewGenerator returns a Device for allocation benchmarks: its first n
// Reads each return pkt (an IP packet) behind a zeroed virtio header, with
// no allocation; later Reads behave as in New (Inject still works). Write
// only counts, for WrittenCount and WaitWritten, and allocates nothing;
// Written is nil. Offload reports every GSO type, since the generator
// accepts anything.
func NewGenerator(name string, mtu int, pkt []byte, n int) *Device {
	b := make([]byte, netif.VirtioHdrLen+len(pkt))
	copy(b[netif.VirtioHdrLen:], pkt)
	return NewGeneratorRaw(name, mtu, b, n)
}

// NewGeneratorRaw is NewGenerator for a packet given with its virtio
// header, for example a GSO super-packet from packet.TCPSuper
// (internal/packet).
func NewGeneratorRaw(name string, mtu int, hdrAndPkt []byte, n int) *Device {
	return newGenerator(newDevice(name, netif.KindTUN, mtu, netif.AllOffloads), hdrAndPkt, n)
}

// NewTAPGenerator is NewGenerator for a TAP: its first n Reads each return
// frame, an Ethernet frame, as it is.
func NewTAPGenerator(name string, mtu int, frame []byte, n int) *Device {
	return newGenerator(newDevice(name, netif.KindTAP, mtu, 0), frame, n)
}

func newGenerator(d *Device, pkt []byte, n int) *Device {
	d.gen = append([]byte(nil), pkt...)
	d.genLeft.Store(int64(n))
	return d
}
