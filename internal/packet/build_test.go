package packet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

var (
	a4 = netip.MustParseAddrPort("100.64.0.1:1000")
	b4 = netip.MustParseAddrPort("100.64.0.2:2000")
	a6 = netip.MustParseAddrPort("[fd64::1]:1000")
	b6 = netip.MustParseAddrPort("[fd64::2]:2000")
)

func TestBuiltPacketsHaveValidLengthsAndChecksums(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pkt   []byte
		proto uint8
	}{
		{"IPv4 UDP with an odd payload", packet.UDP(a4, b4, []byte("odd")), packet.ProtoUDP},
		{"IPv6 UDP", packet.UDP(a6, b6, []byte("even")), packet.ProtoUDP},
		{"IPv4 TCP", packet.TCP(a4, b4, 7, 9, packet.TCPAck, []byte("x")), packet.ProtoTCP},
		{"IPv6 TCP SYN", packet.TCP(a6, b6, 7, 9, packet.TCPSyn, nil), packet.ProtoTCP},
		{"IPv4 ICMP echo", packet.ICMPEcho(a4.Addr(), b4.Addr(), 1, 2, []byte("ping")), packet.ProtoICMP},
		{"IPv6 ICMP echo", packet.ICMPEcho(a6.Addr(), b6.Addr(), 1, 2, []byte("ping")), packet.ProtoICMPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := verifyIP(tc.pkt); err != nil {
				t.Fatal(err)
			}
			info, err := packet.Parse(tc.pkt)
			if err != nil || info.Proto != tc.proto || !info.HasL4 {
				t.Fatalf("Parse = %+v, %v; want protocol %d with its transport header", info, err, tc.proto)
			}
		})
	}
}

func TestSuperPacketsHaveAPartialChecksumHeader(t *testing.T) {
	payload := make([]byte, 3000)
	for _, tc := range []struct {
		name       string
		pkt        []byte
		gso        uint8
		iphl, l4hl int
		csumOff    int
	}{
		{"TCPv4", packet.TCPSuper(a4, b4, 1, 1000, payload), packet.GSOTCPv4, 20, 20, 16},
		{"TCPv6", packet.TCPSuper(a6, b6, 1, 1000, payload), packet.GSOTCPv6, 40, 20, 16},
		{"UDP_L4 over IPv4", packet.UDPSuper(a4, b4, 1000, payload), packet.GSOUDPL4, 20, 8, 6},
		{"UDP_L4 over IPv6", packet.UDPSuper(a6, b6, 1000, payload), packet.GSOUDPL4, 40, 8, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ip := tc.pkt[:10], tc.pkt[10:]
			if h[0] != 1 || h[1] != tc.gso || binary.LittleEndian.Uint16(h[2:]) != uint16(tc.iphl+tc.l4hl) ||
				binary.LittleEndian.Uint16(h[4:]) != 1000 || binary.LittleEndian.Uint16(h[6:]) != uint16(tc.iphl) ||
				binary.LittleEndian.Uint16(h[8:]) != uint16(tc.csumOff) {
				t.Errorf("virtio header % x", h)
			}
			// The field holds the pseudo-header sum, so the sum of the
			// transport part with it is the sum a complete checksum field
			// complements.
			l4 := ip[tc.iphl:]
			binary.BigEndian.PutUint16(l4[tc.csumOff:], ^uint16(refSum(l4)))
			if err := verifyIP(ip); err != nil {
				t.Errorf("the checksum field does not hold the pseudo-header sum: %v", err)
			}
		})
	}
}

func TestBuildersPanicOnMixedFamilies(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("UDP accepted an IPv4 source with an IPv6 destination")
		}
	}()
	packet.UDP(a4, b6, nil)
}

func TestPutICMPWritesWhatICMPBuilds(t *testing.T) {
	quote := packet.UDP(a4, b4, []byte("quoted datagram"))
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"an ICMP error", b4.Addr(), a4.Addr()},
		{"an ICMPv6 error", b6.Addr(), a6.Addr()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := packet.ICMP(tc.src, tc.dst, 3, 13, append(make([]byte, 4), quote...))
			buf := bytes.Repeat([]byte{0xee}, 2000) // stale bytes must not leak into the packet
			n := packet.PutICMP(buf, tc.src, tc.dst, 3, 13, [4]byte{}, quote)
			if !bytes.Equal(buf[:n], want) {
				t.Fatalf("PutICMP wrote\n%x\nICMP builds\n%x", buf[:n], want)
			}
			if err := verifyIP(buf[:n]); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPutICMPRefusesWhatItCannotWrite(t *testing.T) {
	buf := make([]byte, 100)
	for _, tc := range []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		data     []byte
	}{
		{"a buffer too small", buf[:35], b4.Addr(), a4.Addr(), make([]byte, 8)},
		{"addresses of two families", buf, b4.Addr(), a6.Addr(), nil},
		{"an IPv4-mapped source", buf, netip.AddrFrom16(b4.Addr().As16()), a6.Addr(), nil},
		{"no source", buf, netip.Addr{}, netip.Addr{}, nil},
		{"more data than an IPv4 length field counts", make([]byte, 70000), b4.Addr(), a4.Addr(), make([]byte, 0xffff-27)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := packet.PutICMP(tc.b, tc.src, tc.dst, 3, 13, [4]byte{}, tc.data); n != 0 {
				t.Fatalf("PutICMP = %d, want 0", n)
			}
		})
	}
}

func TestFragmentsReassemble(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 200) // 3,200 bytes
	for _, tc := range []struct {
		name string
		ip   []byte
	}{
		{"an IPv4 UDP datagram", packet.UDP(a4, b4, payload)},
		{"an IPv6 UDP datagram", packet.UDP(a6, b6, payload)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frags := packet.Fragments(tc.ip, 1280, 0xabcd)
			if len(frags) != 3 {
				t.Fatalf("%d fragments, want 3", len(frags))
			}
			var data []byte
			for n, f := range frags {
				if len(f) > 1280 {
					t.Errorf("fragment %d has %d bytes", n, len(f))
				}
				i, err := packet.Parse(f)
				if err != nil {
					t.Fatalf("fragment %d: Parse: %v", n, err)
				}
				want := packet.LaterFragment
				if n == 0 {
					want = packet.FirstFragment
				}
				if i.Frag != want || i.FragID != 0xabcd || i.Proto != packet.ProtoUDP {
					t.Fatalf("fragment %d: Frag %v, FragID %#x, Proto %d", n, i.Frag, i.FragID, i.Proto)
				}
				if i.Version == 4 {
					if err := verifyIPv4Header(f); err != nil {
						t.Fatalf("fragment %d: %v", n, err)
					}
				}
				data = append(data, f[i.L4Off:]...)
			}
			hl := len(tc.ip) - len(payload) - packet.UDPHdrLen
			if !bytes.Equal(data, tc.ip[hl:]) {
				t.Fatal("the fragments' data is not the datagram's")
			}
		})
	}
}

// verifyIPv4Header checks the header checksum alone.
func verifyIPv4Header(ip []byte) error {
	if refSum(ip[:packet.IPv4HdrLen]) != 0xffff {
		return errors.New("IPv4 header checksum wrong")
	}
	return nil
}
