package netiftest_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

var (
	a6 = netip.MustParseAddrPort("[fd64::1]:1000")
	b6 = netip.MustParseAddrPort("[fd64::2]:2000")
)

// l4Checksum verifies a transport checksum including its pseudo-header.
func l4Checksum(ip []byte, proto uint8) uint16 {
	var src, dst netip.Addr
	var l4 []byte
	if ip[0]>>4 == 4 {
		src, dst, l4 = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), ip[20:]
	} else {
		src, dst, l4 = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40])), ip[40:]
	}
	return netiftest.Checksum(l4, netiftest.PseudoSum(src, dst, proto, len(l4)))
}

func TestBuiltPacketsHaveValidLengthsAndChecksums(t *testing.T) {
	a4n, b4n := a4.Addr(), b4.Addr()
	for _, tc := range []struct {
		name  string
		pkt   []byte
		proto uint8
	}{
		{"IPv4 UDP", netiftest.IPv4UDP(a4, b4, []byte("odd")), 17},
		{"IPv6 UDP", netiftest.IPv6UDP(a6, b6, []byte("even")), 17},
		{"IPv4 TCP", netiftest.IPv4TCP(a4, b4, 7, 9, netiftest.TCPAck, []byte("x")), 6},
		{"IPv6 TCP", netiftest.IPv6TCP(a6, b6, 7, 9, netiftest.TCPSyn, nil), 6},
		{"IPv6 ICMP echo", netiftest.IPv6ICMPEcho(a6.Addr(), b6.Addr(), 1, 2, []byte("ping")), 58},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := tc.pkt
			if ip[0]>>4 == 4 {
				if binary.BigEndian.Uint16(ip[2:]) != uint16(len(ip)) || netiftest.Checksum(ip[:20], 0) != 0 || ip[9] != tc.proto {
					t.Errorf("bad IPv4 header % x", ip[:20])
				}
			} else if int(binary.BigEndian.Uint16(ip[4:]))+40 != len(ip) || ip[6] != tc.proto {
				t.Errorf("bad IPv6 header % x", ip[:40])
			}
			if c := l4Checksum(ip, tc.proto); c != 0 {
				t.Errorf("transport checksum does not verify (residue %#04x)", c)
			}
		})
	}
	icmp := netiftest.IPv4ICMPEcho(a4n, b4n, 1, 2, []byte("ping"))
	if netiftest.Checksum(icmp[20:], 0) != 0 || icmp[20] != 8 {
		t.Errorf("bad ICMP echo request % x", icmp)
	}
}

func TestTCPSuperHasAPartialChecksumHeader(t *testing.T) {
	payload := make([]byte, 3000)
	for _, src := range []netip.AddrPort{a4, a6} {
		dst, iphl, gso := b4, 20, uint8(1)
		if src.Addr().Is6() {
			dst, iphl, gso = b6, 40, 4
		}
		b := netiftest.TCPSuper(src, dst, 1, 1000, payload)
		h, ip := b[:10], b[10:]
		if h[0] != 1 || h[1] != gso || binary.LittleEndian.Uint16(h[2:]) != uint16(iphl+20) ||
			binary.LittleEndian.Uint16(h[4:]) != 1000 || binary.LittleEndian.Uint16(h[6:]) != uint16(iphl) ||
			binary.LittleEndian.Uint16(h[8:]) != 16 {
			t.Errorf("%v: virtio header % x", src, h)
		}
		l4 := ip[iphl:]
		want := netiftest.PseudoSum(src.Addr(), dst.Addr(), 6, len(l4))
		if got := binary.BigEndian.Uint16(l4[16:]); got != ^netiftest.Checksum(nil, want) {
			t.Errorf("%v: checksum field %#04x, want the folded pseudo-header sum %#04x", src, got, ^netiftest.Checksum(nil, want))
		}
	}
	u := netiftest.UDPSuper(a4, b4, 500, make([]byte, 1200))
	if u[1] != 5 || binary.LittleEndian.Uint16(u[8:]) != 6 || binary.BigEndian.Uint16(u[10+24:]) != 1208 {
		t.Errorf("UDPSuper header or UDP length wrong: % x", u[:40])
	}
}

func TestBuildersPanicOnTheWrongFamily(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("IPv4UDP accepted IPv6 addresses")
		}
	}()
	netiftest.IPv4UDP(a6, b6, nil)
}
