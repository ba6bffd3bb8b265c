package netiftest_test

import (
	"bytes"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

var (
	macA = l2.MAC{0x02, 0, 0, 0, 0, 0xa}
	macB = l2.MAC{0x02, 0, 0, 0, 0, 0xb}
)

func TestTAPTwinReadsInjectedFramesAsTheyAreAndCopiesWrites(t *testing.T) {
	d := netiftest.NewTAP("tvtap0", 1500)
	if d.Kind() != netif.KindTAP || d.Offload() != 0 || d.MTU() != 1500 || d.Name() != "tvtap0" {
		t.Fatalf("NewTAP: kind %v, offload %v, MTU %d, name %q", d.Kind(), d.Offload(), d.MTU(), d.Name())
	}
	frame := netiftest.EthernetFrame(l2.Header{Dst: l2.Broadcast, Src: macA, EtherType: netiftest.EtherTypeARP},
		netiftest.ARP(netiftest.ARPRequest, macA, a4.Addr(), l2.MAC{}, b4.Addr()))
	d.Inject(frame)
	buf := make([]byte, netif.MaxPacket)
	n, err := d.Read(buf, false)
	if err != nil || !bytes.Equal(buf[:n], frame) {
		t.Errorf("Read = % x, %v; want the injected frame with nothing in front", buf[:n], err)
	}
	if err := d.Write(frame); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got := <-d.Written(); !bytes.Equal(got, frame) {
		t.Errorf("Written = % x, want the frame", got)
	}
	if err := d.Write(frame[:l2.HeaderLen-1]); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Write of a frame shorter than an Ethernet header = %v, want EINVAL", err)
	}
	if err := d.Write(frame[:l2.HeaderLen]); err != nil {
		t.Errorf("Write of a bare Ethernet header = %v, want nil as the kernel takes it", err)
	}
	if netiftest.New("tvtun0", 1500, 0).Kind() != netif.KindTUN {
		t.Error("New does not make a TUN")
	}
}

func TestTAPGeneratorReadsWithoutAllocating(t *testing.T) {
	frame := netiftest.EthernetFrame(l2.Header{Dst: macB, Src: macA, EtherType: netiftest.EtherTypeIPv4},
		packet.UDP(a4, b4, make([]byte, 1400)))
	d := netiftest.NewTAPGenerator("tvtap0", 1500, frame, 1000)
	buf := make([]byte, netif.MaxPacket)
	allocs := testing.AllocsPerRun(500, func() {
		n, err := d.Read(buf, false)
		if err != nil || n != len(frame) {
			t.Fatalf("Read = %d, %v; want %d", n, err, len(frame))
		}
		if err := d.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || d.Kind() != netif.KindTAP {
		t.Errorf("generator: %v allocations per frame, kind %v; want 0, tap", allocs, d.Kind())
	}
	if !bytes.Equal(buf[:len(frame)], frame) {
		t.Error("the generator's frame differs from the one given")
	}
}

func TestARPRoundTripsAndRefusesOtherProtocols(t *testing.T) {
	s, g := netip.MustParseAddr("10.9.0.20"), netip.MustParseAddr("10.9.0.10")
	p := netiftest.ARP(netiftest.ARPReply, macA, s, macB, g)
	op, sMAC, sIP, tMAC, tIP, ok := netiftest.ParseARP(p)
	if !ok || op != netiftest.ARPReply || sMAC != macA || sIP != s || tMAC != macB || tIP != g || len(p) != 28 {
		t.Errorf("ParseARP(ARP(...)) = %d %v %v %v %v %v (%d bytes)", op, sMAC, sIP, tMAC, tIP, ok, len(p))
	}
	bad := bytes.Clone(p)
	bad[3] = 0xdd // protocol type IPv6: not ARP for IPv4
	if _, _, _, _, _, ok := netiftest.ParseARP(bad); ok {
		t.Error("ParseARP accepted ARP for another protocol")
	}
	if _, _, _, _, _, ok := netiftest.ParseARP(p[:27]); ok {
		t.Error("ParseARP accepted a truncated packet")
	}
}
