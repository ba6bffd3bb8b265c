package packet_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
)

// kernelRouter is a test namespace that forwards from a TUN with offloads
// (in), which takes GSO super-packets, to a TUN without (out), before
// which the kernel must segment and checksum them in software: what out
// reads is the kernel's own segmentation of what was written into in.
type kernelRouter struct {
	in, out *netif.TUN
}

// Address plan (docs/design.md, "The test topology"): site LAN A sends
// through the router to site LAN B; neither host exists beyond the packets
// the test writes.
var (
	lanA4 = netip.MustParseAddrPort("10.1.0.10:40000")
	lanB4 = netip.MustParseAddrPort("10.2.0.10:5201")
	lanA6 = netip.MustParseAddrPort("[fd01::10]:40000")
	lanB6 = netip.MustParseAddrPort("[fd02::10]:5201")
)

func newKernelRouter(t *testing.T) *kernelRouter {
	lab.EnterNetns(t, "packet")
	for _, key := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"} {
		lab.SetSysctl(t, key, "1")
	}
	for _, key := range []string{"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"} {
		lab.SetSysctl(t, key, "0")
	}
	log := testutil.Logger(t)
	r := &kernelRouter{}
	for _, d := range []struct {
		dev     **netif.TUN
		name    string
		offload bool
		link    netif.LinkConfig
	}{
		{&r.in, "tvsegin0", true, netif.LinkConfig{Addresses: []netip.Prefix{
			netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("fd01::1/64")}}},
		{&r.out, "tvsegout0", false, netif.LinkConfig{Addresses: []netip.Prefix{
			netip.MustParsePrefix("10.2.0.1/24"), netip.MustParsePrefix("fd02::1/64")}}},
	} {
		dev, err := netif.CreateTUN(netif.TUNConfig{Name: d.name, MTU: 1500, Offload: d.offload, Logger: log})
		if err != nil {
			t.Fatalf("CreateTUN %s: %v", d.name, err)
		}
		t.Cleanup(func() { dev.Close() })
		if _, err := netif.Configure(d.name, d.link); err != nil {
			t.Fatalf("Configure %s: %v", d.name, err)
		}
		*d.dev = dev
	}
	return r
}

// forward writes super into in and returns the IP packets of its flow
// (to dst, protocol proto) that out reads, waiting up to 10 s for n.
func (r *kernelRouter) forward(t *testing.T, super []byte, dst netip.Addr, proto uint8, n int) [][]byte {
	t.Helper()
	if err := r.in.Write(super); err != nil {
		t.Fatalf("write the super-packet into %s: %v", r.in.Name(), err)
	}
	var got [][]byte
	buf := make([]byte, netif.MaxPacket)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		m, err := r.out.Read(buf, false)
		if err != nil {
			t.Fatalf("read %s: %v", r.out.Name(), err)
		}
		if m == 0 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if vh, _ := packet.ParseVirtioHdr(buf); vh.GSOType != packet.GSONone {
			t.Fatalf("%s without offloads read a super-packet", r.out.Name())
		}
		ip := buf[packet.VirtioHdrLen:m]
		if h, err := packet.ParseHeader(ip); err == nil && h.Dst == dst && h.Proto == proto {
			got = append(got, bytes.Clone(ip))
		}
	}
	if len(got) != n {
		t.Fatalf("the kernel forwarded %d packets of the flow within 10s, want %d", len(got), n)
	}
	return got
}

func TestSegmentCutsAsTheKernelDoes(t *testing.T) {
	r := newKernelRouter(t)
	flags := uint8(packet.TCPAck | packet.TCPPsh | packet.TCPFin | packet.TCPCwr)
	tests := []struct {
		name  string
		super []byte
		needs netif.Offload
	}{
		{"TCPv4 with CWR, PSH and FIN and a short last segment",
			superWith(packet.TCPSuper(lanA4, lanB4, 0xfffff000, 1000, randomBytes(2500)), flags, 0xfffe), netif.OffloadTCPv4},
		{"TCPv4 with the ECN flag (CWR on the first segment only)", mod(superWith(packet.TCPSuper(lanA4, lanB4, 5, 700, randomBytes(2000)), flags|packet.TCPEce, 9),
			func(c []byte) { c[1] |= packet.GSOECN }), netif.OffloadTCPv4},
		{"TCPv6 of whole segments", superWith(packet.TCPSuper(lanA6, lanB6, 77, 1200, randomBytes(3*1200)), flags, 0), netif.OffloadTCPv6},
		{"UDP_L4 over IPv4 with an odd last datagram", superWith(packet.UDPSuper(lanA4, lanB4, 1000, randomBytes(2501)), 0, 0x4242), netif.OffloadUDP},
		{"UDP_L4 over IPv6", packet.UDPSuper(lanA6, lanB6, 1100, randomBytes(3300)), netif.OffloadUDP},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r.in.Offload()&tc.needs == 0 {
				t.Skipf("this kernel refuses GSO writes of %v (probe: %v)", tc.needs, r.in.Offload())
			}
			ours := segmentAll(t, tc.super)
			hdr, _ := packet.ParseHeader(tc.super[packet.VirtioHdrLen:])
			kernel := r.forward(t, tc.super, hdr.Dst, hdr.Proto, len(ours))
			for i, k := range kernel {
				if err := verifyIP(k); err != nil {
					t.Errorf("kernel segment %d does not verify: %v", i, err)
				}
				// Forwarding took one from the TTL or hop limit (and so
				// changed the IPv4 header checksum); all else must match.
				o := bytes.Clone(ours[i][packet.VirtioHdrLen:])
				if hdr.Src.Is4() {
					o[8] = k[8]
					copy(o[10:12], k[10:12])
				} else {
					o[7] = k[7]
				}
				if !bytes.Equal(o, k) {
					t.Errorf("segment %d differs from the kernel's:\n ours   % x\n kernel % x", i, head(o), head(k))
				}
			}
			if t.Failed() {
				t.Logf("first kernel segment IPv4 ID %#04x", binary.BigEndian.Uint16(kernel[0][4:]))
			}
		})
	}
}

// head is the first 64 bytes of b: the headers, for a failure message.
func head(b []byte) []byte { return b[:min(64, len(b))] }
