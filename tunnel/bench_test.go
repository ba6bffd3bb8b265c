package tunnel

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

// gated holds a device's reads until open is closed, so a benchmark's
// packets flow only once the engines are connected.
type gated struct {
	netif.Device
	open chan struct{}
}

func (g *gated) Read(b []byte, wait bool) (int, error) {
	<-g.open
	return g.Device.Read(b, wait)
}

// benchmarkEngines sends b.N copies of hdrAndPkt from one engine to the
// other over real TLS on loopback TCP, with generator devices, and reports
// packets per second, throughput and heap allocations per packet.
func benchmarkEngines(b *testing.B, hdrAndPkt []byte) {
	src := netiftest.NewGeneratorRaw("a", 1500, hdrAndPkt, b.N)
	sink := netiftest.NewGeneratorRaw("b", 1500, hdrAndPkt, 0)
	benchmarkPair(b, src, sink, len(hdrAndPkt)-netif.VirtioHdrLen)
}

// benchmarkPair runs src's b.N generated packets (or frames) of size
// bytes each through a pair of engines into sink and reports the figures.
func benchmarkPair(b *testing.B, src, sink *netiftest.Device, size int) {
	open := make(chan struct{})
	pair(b, &gated{Device: src, open: open}, sink)

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start := time.Now()
	close(open)
	if !sink.WaitWritten(uint64(b.N), time.Minute) {
		b.Fatalf("%d of %d packets arrived", sink.WrittenCount(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	n := float64(b.N)
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/packet")
	b.ReportMetric(n/elapsed.Seconds(), "packets/s")
	b.ReportMetric(n*float64(size)*8/elapsed.Seconds()/1e9, "Gbit/s")
}

// BenchmarkEnginePackets moves 1400-byte UDP packets: the per-packet path.
func BenchmarkEnginePackets(b *testing.B) {
	pkt := packet.UDP(ap("10.1.0.10:5000"), ap("10.2.0.10:6000"), bytes.Repeat([]byte{1}, 1372))
	benchmarkEngines(b, append(make([]byte, netif.VirtioHdrLen), pkt...))
}

// BenchmarkEngineGSO moves 64 KB TCP super-packets whole: the bulk path.
func BenchmarkEngineGSO(b *testing.B) {
	benchmarkEngines(b, packet.TCPSuper(ap("10.1.0.10:40000"), ap("10.2.0.10:5201"), 1, 1448, bytes.Repeat([]byte{7}, 45*1448)))
}

// BenchmarkEngineFrames moves 1414-byte Ethernet frames (a 1400-byte IP
// packet) between TAP engines: the per-frame path of TAP mode, switch
// decisions included.
func BenchmarkEngineFrames(b *testing.B) {
	fr := netiftest.EthernetFrame(l2.Header{Dst: hostB, Src: hostA, EtherType: netiftest.EtherTypeIPv4},
		packet.UDP(ap("10.9.0.1:5000"), ap("10.9.0.2:6000"), bytes.Repeat([]byte{1}, 1372)))
	src := netiftest.NewTAPGenerator("a", 1500, fr, b.N)
	sink := netiftest.NewTAPGenerator("b", 1500, fr, 0)
	benchmarkPair(b, src, sink, len(fr))
}
