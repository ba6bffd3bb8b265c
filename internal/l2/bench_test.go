package l2

import (
	"fmt"
	"testing"
	"time"
)

// benchMAC is MAC number i of site s: 02:s:0:i.
func benchMAC(s byte, i int) MAC { return MAC{0x02, s, 0, byte(i >> 16), byte(i >> 8), byte(i)} }

// benchTable returns a switch that has learned perPeer MACs behind each of
// peers ports and local MACs on the device, all at t0.
func benchTable(peers, perPeer, local int) (*Switch[int], []*Port[int]) {
	s := New[int](Config{})
	ports := make([]*Port[int], peers)
	for p := range ports {
		ports[p] = s.AddPort(p + 1)
		for i := range perPeer {
			s.FromPeer(ports[p], &Header{Src: benchMAC(byte(p+1), i), Dst: Broadcast}, t0)
		}
	}
	for i := range local {
		s.FromDevice(&Header{Src: benchMAC(0xff, i), Dst: Broadcast}, t0)
	}
	return s, ports
}

func reportRate(b *testing.B, what string, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), what+"/s")
}

func BenchmarkParse(b *testing.B) {
	frame := make([]byte, 1514)
	(&Header{Dst: host(2), Src: host(1), Tagged: true, TCI: 7, EtherType: 0x0800}).Append(frame[:0])
	var h Header
	b.ReportAllocs()
	for b.Loop() {
		if !Parse(frame, &h) {
			b.Fatal("Parse failed")
		}
	}
	reportRate(b, "frames", b.N)
}

// BenchmarkDecide decides for frames between local hosts and hosts behind
// peers, one way or the other, in a table of 4 peers x 1000 MACs and 1000
// local ones: two lookups and a refresh per frame.
func BenchmarkDecide(b *testing.B) {
	s, ports := benchTable(4, 1000, 1000)
	for _, dir := range []struct {
		name   string
		decide func(h *Header, i int) Action[int]
	}{
		{"from=device", func(h *Header, i int) Action[int] {
			h.Src, h.Dst = benchMAC(0xff, i%1000), benchMAC(byte(1+i%4), (i*7)%1000)
			return s.FromDevice(h, t0+int64(i)*1000)
		}},
		{"from=peer", func(h *Header, i int) Action[int] {
			h.Src, h.Dst = benchMAC(byte(1+i%4), i%1000), benchMAC(0xff, (i*7)%1000)
			return s.FromPeer(ports[i%4], h, t0+int64(i)*1000)
		}},
	} {
		b.Run(dir.name, func(b *testing.B) {
			var h Header
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if a := dir.decide(&h, i); a.Peer == nil && !a.Device {
					b.Fatalf("frame %d: %+v", i, a)
				}
				i++
			}
			reportRate(b, "frames", b.N)
		})
	}
}

// BenchmarkParallel runs the device's reader and one reader per peer at
// once, as the tunnel does, each with its own traffic.
func BenchmarkParallel(b *testing.B) {
	s, ports := benchTable(4, 1000, 1000)
	var next int
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Goroutine 0 plays the device; the others a peer each.
		self := next % 5
		next++
		var h Header
		i := 0
		for pb.Next() {
			now := t0 + int64(i)*1000
			if self == 0 {
				h.Src, h.Dst = benchMAC(0xff, i%1000), benchMAC(byte(1+i%4), (i*7)%1000)
				s.FromDevice(&h, now)
			} else {
				h.Src, h.Dst = benchMAC(byte(self), i%1000), benchMAC(0xff, (i*7)%1000)
				s.FromPeer(ports[self-1], &h, now)
			}
			i++
		}
	})
	reportRate(b, "frames", b.N)
}

// BenchmarkLearn learns PeerLimit new MACs behind a fresh peer in a table
// that holds 8 x 1000 others, then flushes them: the cost of learning,
// including the copy of a shard per new MAC.
func BenchmarkLearn(b *testing.B) {
	for _, size := range []int{0, 1000} {
		b.Run(fmt.Sprintf("table=%dx8", size), func(b *testing.B) {
			s, _ := benchTable(8, size, 0)
			p := s.AddPort(99)
			var h Header
			h.Dst = Broadcast
			b.ReportAllocs()
			for b.Loop() {
				for i := range PeerLimit {
					h.Src = benchMAC(99, i)
					if a := s.FromPeer(p, &h, t0); a.Drop != Pass {
						b.Fatalf("MAC %d: %v", i, a.Drop)
					}
				}
				s.Flush(p)
			}
			reportRate(b, "learns", b.N*PeerLimit)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*PeerLimit), "ns/learn")
		})
	}
}

// BenchmarkBeyondLimit is a peer at its limit sending frames from ever
// new source MACs: each is dropped after taking the switch's lock.
func BenchmarkBeyondLimit(b *testing.B) {
	s, ports := benchTable(1, PeerLimit, 0)
	var h Header
	h.Dst = Broadcast
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		h.Src = benchMAC(0x77, i)
		if a := s.FromPeer(ports[0], &h, t0+int64(time.Millisecond)); a.Drop != DropLimit {
			b.Fatalf("frame %d: %v", i, a.Drop)
		}
		i++
	}
	reportRate(b, "frames", b.N)
}
