package tunnel

import (
	"bytes"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

func TestCoDelSignalsOncePerIntervalWhileTheQueueStaysSlow(t *testing.T) {
	var q codel
	ms := int64(time.Millisecond)
	slow, fast := 10*ms, ms/2
	var signals []int64
	for now := int64(0); now < 1000*ms; now += ms {
		if q.signal(now, slow, 3) {
			signals = append(signals, now)
		}
	}
	if len(signals) < 3 || signals[0] < int64(codelInterval) {
		t.Fatalf("signals at %v: want the first after one interval, then more", signals)
	}
	for i := 1; i < len(signals); i++ {
		if gap := signals[i] - signals[i-1]; gap > int64(codelInterval) || gap < 2*ms {
			t.Fatalf("gap %dms between signals: want at most one interval, shrinking", gap/ms)
		}
	}
	if q.signal(1001*ms, fast, 3) || q.signal(1002*ms, slow, 3) {
		t.Fatal("a fast batch must end the dropping state, and a new interval must pass first")
	}
	if q.signal(2000*ms, slow, 0) {
		t.Fatal("an empty queue is never signalled")
	}
}

func TestCongestMarksECNCapablePacketsAndDropsOthers(t *testing.T) {
	frame := func(pkt []byte) *batch {
		b := &batch{buf: make([]byte, 0, 4096)}
		b.buf = wire.AppendFrame(b.buf, wire.TypePacket, append(make([]byte, netif.VirtioHdrLen), pkt...))
		b.n = len(b.buf)
		return b
	}
	plain := packet.UDP(ap("10.1.0.10:1"), ap("10.2.0.10:2"), []byte("x"))
	ect := bytes.Clone(plain)
	ect[1] |= 2 // ECT(0)
	ect[10], ect[11] = 0, 0
	csum := packet.Checksum(ect[:20], 0)
	ect[10], ect[11] = byte(csum>>8), byte(csum)

	if b := frame(plain); !congest(b) || wire.Type(b.buf[0]) != wire.TypePad {
		t.Fatal("a packet that is not ECN-capable must be dropped (turned into padding)")
	}
	b := frame(ect)
	if congest(b) || wire.Type(b.buf[0]) != wire.TypePacket {
		t.Fatal("an ECN-capable packet must be marked, not dropped")
	}
	ip := b.buf[wire.HeaderLen+netif.VirtioHdrLen:]
	if ip[1]&3 != 3 {
		t.Fatalf("ECN field %b, want CE (11)", ip[1]&3)
	}
	if packet.Checksum(ip[:20], 0) != 0 {
		t.Fatal("the IPv4 header checksum is wrong after marking")
	}
	v6 := packet.UDP(ap("[fd01::10]:1"), ap("[fd02::10]:2"), []byte("x"))
	v6[1] |= 0x10 // ECT(1)
	if b := frame(v6); congest(b) || b.buf[wire.HeaderLen+netif.VirtioHdrLen+1]&0x30 != 0x30 {
		t.Fatal("an ECN-capable IPv6 packet must be marked CE")
	}
}
