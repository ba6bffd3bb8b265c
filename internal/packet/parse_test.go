package packet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// ext is an IPv6 extension header for withExt: its type, total length (a
// multiple of 8) and, for a fragment header, the offset-and-flags word.
type ext struct {
	typ  uint8
	len  int
	frag uint16
}

// withExt inserts exts between the fixed header and the transport header
// of the IPv6 packet p and fixes the payload length and next-header chain.
func withExt(p []byte, exts ...ext) []byte {
	out := append([]byte(nil), p[:packet.IPv6HdrLen]...)
	nextAt := 6
	for _, e := range exts {
		out[nextAt] = e.typ
		h := make([]byte, e.len)
		if e.typ == packet.ProtoFragment {
			binary.BigEndian.PutUint16(h[2:], e.frag)
		} else {
			h[1] = byte(e.len/8 - 1)
		}
		nextAt = len(out)
		out = append(out, h...)
	}
	out[nextAt] = p[6]
	out = append(out, p[packet.IPv6HdrLen:]...)
	binary.BigEndian.PutUint16(out[4:], uint16(len(out)-packet.IPv6HdrLen))
	return out
}

// mod returns a copy of b changed by f.
func mod(b []byte, f func([]byte)) []byte {
	c := bytes.Clone(b)
	f(c)
	return c
}

// withIPv4Options adds 4 bytes of no-op options to the IPv4 packet p.
func withIPv4Options(p []byte) []byte {
	out := append(append(append([]byte(nil), p[:20]...), 1, 1, 1, 1), p[20:]...)
	out[0] = 0x46
	binary.BigEndian.PutUint16(out[2:], uint16(len(out)))
	return out
}

// fragment4 sets the IPv4 flags-and-offset word of a copy of p.
func fragment4(p []byte, word uint16) []byte {
	return mod(p, func(c []byte) { binary.BigEndian.PutUint16(c[6:], word) })
}

var (
	tcp4   = packet.TCP(a4, b4, 100, 200, packet.TCPSyn, nil)
	udp4   = packet.UDP(a4, b4, []byte("datagram"))
	tcp6   = packet.TCP(a6, b6, 100, 200, packet.TCPAck|packet.TCPPsh, []byte("segment"))
	udp6   = packet.UDP(a6, b6, []byte("datagram"))
	echo4  = packet.ICMPEcho(a4.Addr(), b4.Addr(), 0x1234, 1, []byte("ping"))
	echo6  = packet.ICMPEcho(a6.Addr(), b6.Addr(), 0x1234, 1, []byte("ping"))
	hbh8   = ext{typ: packet.ProtoHopOpts, len: 8}
	dst16  = ext{typ: packet.ProtoDstOpts, len: 16}
	rt24   = ext{typ: packet.ProtoRouting, len: 24}
	first  = ext{typ: packet.ProtoFragment, len: 8, frag: 1}          // offset 0, more fragments
	later  = ext{typ: packet.ProtoFragment, len: 8, frag: 185<<3 | 1} // offset 1480
	atomic = ext{typ: packet.ProtoFragment, len: 8}                   // offset 0, no more
)

// icmpError returns an ICMP or ICMPv6 error from b to a quoting q.
func icmpError(typ uint8, q []byte) []byte {
	src, dst := b4.Addr(), a4.Addr()
	if q[0]>>4 == 6 {
		src, dst = b6.Addr(), a6.Addr()
	}
	return packet.ICMP(src, dst, typ, 0, append(make([]byte, 4), q...))
}

func TestParse(t *testing.T) {
	chain := make([]ext, 8)
	for i := range chain {
		chain[i] = ext{typ: packet.ProtoDstOpts, len: 8}
	}
	tests := []struct {
		name string
		ip   []byte
		want packet.Info // Src, Dst and Version are checked apart
	}{
		{"an IPv4 TCP SYN gives ports and flags", tcp4,
			packet.Info{Proto: packet.ProtoTCP, L4Off: 20, HasL4: true, SrcPort: 1000, DstPort: 2000, TCPFlags: packet.TCPSyn}},
		{"IPv4 options move the transport header", withIPv4Options(udp4),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 24, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"an IPv6 UDP datagram gives ports", udp6,
			packet.Info{Proto: packet.ProtoUDP, L4Off: 40, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"IPv6 hop-by-hop, destination options and routing headers are walked", withExt(tcp6, hbh8, dst16, rt24),
			packet.Info{Proto: packet.ProtoTCP, L4Off: 88, HasL4: true, SrcPort: 1000, DstPort: 2000, TCPFlags: packet.TCPAck | packet.TCPPsh}},
		{"eight extension headers are walked", withExt(udp6, chain...),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 104, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"an IPv6 first fragment carries the ports", withExt(udp6, first),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 48, Frag: packet.FirstFragment, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"an IPv6 later fragment has no transport header", withExt(udp6, dst16, later),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 64, Frag: packet.LaterFragment}},
		{"an IPv6 atomic fragment is a whole datagram", withExt(udp6, atomic),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 48, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"an IPv4 first fragment carries the ports", fragment4(udp4, 0x2000),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 20, Frag: packet.FirstFragment, HasL4: true, SrcPort: 1000, DstPort: 2000}},
		{"an IPv4 later fragment has no transport header", fragment4(udp4, 0x2000|185),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 20, Frag: packet.LaterFragment}},
		{"an IPv4 last fragment has no transport header", fragment4(udp4, 185),
			packet.Info{Proto: packet.ProtoUDP, L4Off: 20, Frag: packet.LaterFragment}},
		{"an ICMP echo request gives type and identifier", echo4,
			packet.Info{Proto: packet.ProtoICMP, L4Off: 20, HasL4: true, ICMPType: packet.ICMPv4EchoRequest, EchoID: 0x1234}},
		{"an ICMPv6 echo request gives type and identifier", echo6,
			packet.Info{Proto: packet.ProtoICMPv6, L4Off: 40, HasL4: true, ICMPType: packet.ICMPv6EchoRequest, EchoID: 0x1234}},
		{"an ICMP error points at its quote", icmpError(packet.ICMPv4Unreachable, udp4),
			packet.Info{Proto: packet.ProtoICMP, L4Off: 20, HasL4: true, ICMPType: packet.ICMPv4Unreachable, Quote: 28}},
		{"an ICMPv6 error points at its quote", icmpError(packet.ICMPv6PacketTooBig, tcp6),
			packet.Info{Proto: packet.ProtoICMPv6, L4Off: 40, HasL4: true, ICMPType: packet.ICMPv6PacketTooBig, Quote: 48}},
		{"an ICMP error with nothing quoted has no quote", packet.ICMP(b4.Addr(), a4.Addr(), packet.ICMPv4TimeExceeded, 0, make([]byte, 4)),
			packet.Info{Proto: packet.ProtoICMP, L4Off: 20, HasL4: true, ICMPType: packet.ICMPv4TimeExceeded}},
		{"AH ends the walk as an opaque protocol", mod(withExt(udp6, hbh8), func(c []byte) { c[40] = packet.ProtoAH }),
			packet.Info{Proto: packet.ProtoAH, L4Off: 48}},
		{"ESP is an opaque protocol", mod(udp4, func(c []byte) { c[9] = packet.ProtoESP }),
			packet.Info{Proto: packet.ProtoESP, L4Off: 20}},
		{"ICMP inside IPv6 is not read as ICMPv6", mod(udp6, func(c []byte) { c[6] = packet.ProtoICMP }),
			packet.Info{Proto: packet.ProtoICMP, L4Off: 40}},
		{"no next header has no transport header", withExt(mod(udp6, func(c []byte) { c[6] = packet.ProtoNoNext }), dst16),
			packet.Info{Proto: packet.ProtoNoNext, L4Off: 56}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := packet.Parse(tc.ip)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			wantV, wantSrc, wantDst := uint8(4), a4.Addr(), b4.Addr()
			if tc.ip[0]>>4 == 6 {
				wantV, wantSrc, wantDst = 6, a6.Addr(), b6.Addr()
			}
			if tc.want.Quote != 0 || tc.want.ICMPType == packet.ICMPv4TimeExceeded { // errors go from b to a
				wantSrc, wantDst = wantDst, wantSrc
			}
			tc.want.Version, tc.want.Src, tc.want.Dst = wantV, wantSrc, wantDst
			if got != tc.want {
				t.Fatalf("Parse =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestParseReadsTheFragmentIdentification(t *testing.T) {
	withID6 := func(p []byte) []byte { // the fragment header follows the fixed header
		return mod(p, func(c []byte) { binary.BigEndian.PutUint32(c[packet.IPv6HdrLen+4:], 0xdeadbeef) })
	}
	withID4 := func(p []byte) []byte { return mod(p, func(c []byte) { binary.BigEndian.PutUint16(c[4:], 0xbeef) }) }
	for _, tc := range []struct {
		name string
		ip   []byte
		want uint32
	}{
		{"an IPv4 first fragment has the header's 16 bits", withID4(fragment4(udp4, 0x2000)), 0xbeef},
		{"an IPv4 later fragment has the header's 16 bits", withID4(fragment4(udp4, 185)), 0xbeef},
		{"a whole IPv4 datagram has none", withID4(udp4), 0},
		{"an IPv6 first fragment has the fragment header's 32 bits", withID6(withExt(udp6, first)), 0xdeadbeef},
		{"an IPv6 later fragment has the fragment header's 32 bits", withID6(withExt(udp6, later)), 0xdeadbeef},
		{"an IPv6 atomic fragment is whole and has none", withID6(withExt(udp6, atomic)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// the IPv4 header checksum is not Parse's concern
			got, err := packet.Parse(tc.ip)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.FragID != tc.want {
				t.Fatalf("FragID = %#x, want %#x", got.FragID, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	nine := make([]ext, 9)
	for i := range nine {
		nine[i] = ext{typ: packet.ProtoDstOpts, len: 8}
	}
	tests := []struct {
		name string
		ip   []byte
		want error
	}{
		{"an empty packet", nil, packet.ErrShort},
		{"IP version 5", mod(udp4, func(c []byte) { c[0] = 0x55 }), packet.ErrVersion},
		{"a truncated IPv4 header", udp4[:16], packet.ErrShort},
		{"a truncated IPv6 header", udp6[:32], packet.ErrShort},
		{"an IHL below 5", mod(udp4, func(c []byte) { c[0] = 0x44 }), packet.ErrHeader},
		{"an IHL past the end", mod(udp4, func(c []byte) { c[0] = 0x4f }), packet.ErrShort},
		{"an IPv4 total length that disagrees", mod(udp4, func(c []byte) { c[3]++ }), packet.ErrLength},
		{"an IPv4 packet with bytes after its total length", append(bytes.Clone(udp4), 0), packet.ErrLength},
		{"an IPv6 payload length that disagrees", mod(udp6, func(c []byte) { c[5]-- }), packet.ErrLength},
		{"a hop-by-hop header that is not first", withExt(udp6, dst16, hbh8), packet.ErrHeader},
		{"nine extension headers", withExt(udp6, nine...), packet.ErrHeader},
		{"an extension header longer than the packet", mod(withExt(udp6, dst16), func(c []byte) { c[41] = 200 }), packet.ErrShort},
		{"a TCP header cut short", mod(tcp4[:30], func(c []byte) { c[3] = 30 }), packet.ErrShort},
		{"a TCP data offset below 5", mod(tcp4, func(c []byte) { c[32] = 4 << 4 }), packet.ErrL4},
		{"a TCP data offset past the end", mod(tcp4, func(c []byte) { c[32] = 15 << 4 }), packet.ErrShort},
		{"a UDP header cut short", mod(udp6[:44], func(c []byte) { c[5] = 4 }), packet.ErrShort},
		{"an ICMP header cut short", mod(echo4[:24], func(c []byte) { c[3] = 24 }), packet.ErrShort},
		{"an IPv4 first fragment too short for its ports (RFC 1858)", mod(fragment4(udp4, 0x2000)[:22], func(c []byte) { c[3] = 22 }), packet.ErrShort},
		{"an IPv6 first fragment too short for its ports", withExt(mod(udp6[:42], func(c []byte) {}), first), packet.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := packet.Parse(tc.ip); !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseHeaderAgreesWithTheOldChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ip    []byte
		want  error
		proto uint8
		l4    int
	}{
		{"IPv4 TCP", tcp4, nil, packet.ProtoTCP, 20},
		{"IPv6 UDP", udp6, nil, packet.ProtoUDP, 8},
		{"IPv6 with an extension header stops at the fixed header", withExt(udp6, dst16), nil, packet.ProtoDstOpts, 0},
		{"ICMP has no TCP or UDP header", echo4, nil, packet.ProtoICMP, 0},
		{"a short packet", udp4[:19], packet.ErrShort, 0, 0},
		{"a bad length", mod(udp4, func(c []byte) { c[2] = 9 }), packet.ErrLength, 0, 0},
		{"version 0", make([]byte, 40), packet.ErrVersion, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := packet.ParseHeader(tc.ip)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseHeader = %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if h.Proto != tc.proto || h.L4Len(tc.ip) != tc.l4 {
				t.Errorf("proto %d, L4Len %d; want %d, %d", h.Proto, h.L4Len(tc.ip), tc.proto, tc.l4)
			}
			sp, dp, ok := h.Ports(tc.ip)
			if ok != (tc.l4 != 0) || ok && (sp != 1000 || dp != 2000) {
				t.Errorf("Ports = %d, %d, %v", sp, dp, ok)
			}
		})
	}
}

func TestQuoted(t *testing.T) {
	// The quoted packets went from a to b; the errors come back from b.
	long := packet.UDP(a4, b4, make([]byte, 1000))
	tests := []struct {
		name    string
		msg     []byte
		want    packet.Info
		wantErr error
	}{
		{"an ICMP error quoting a UDP header gives its ports", icmpError(packet.ICMPv4Unreachable, long[:28]),
			packet.Info{Version: 4, Src: a4.Addr(), Dst: b4.Addr(), Proto: packet.ProtoUDP, L4Off: 20, HasL4: true, SrcPort: 1000, DstPort: 2000}, nil},
		{"a quote that ends inside the transport header has no ports", icmpError(packet.ICMPv4TimeExceeded, long[:25]),
			packet.Info{Version: 4, Src: a4.Addr(), Dst: b4.Addr(), Proto: packet.ProtoUDP, L4Off: 20}, nil},
		{"an ICMPv6 error quoting a whole TCP segment gives ports and flags", icmpError(packet.ICMPv6PacketTooBig, withExt(tcp6, dst16)),
			packet.Info{Version: 6, Src: a6.Addr(), Dst: b6.Addr(), Proto: packet.ProtoTCP, L4Off: 56, HasL4: true, SrcPort: 1000, DstPort: 2000, TCPFlags: packet.TCPAck | packet.TCPPsh}, nil},
		{"a quote cut inside its extension headers stops there", icmpError(packet.ICMPv6TimeExceeded, withExt(tcp6, dst16)[:50]),
			packet.Info{Version: 6, Src: a6.Addr(), Dst: b6.Addr(), Proto: packet.ProtoDstOpts, L4Off: 40}, nil},
		{"a quoted echo request gives its identifier", icmpError(packet.ICMPv6Unreachable, echo6),
			packet.Info{Version: 6, Src: a6.Addr(), Dst: b6.Addr(), Proto: packet.ProtoICMPv6, L4Off: 40, HasL4: true, ICMPType: packet.ICMPv6EchoRequest, EchoID: 0x1234}, nil},
		{"a quoted ICMP error is not followed further", icmpError(packet.ICMPv4Unreachable, icmpError(packet.ICMPv4Unreachable, udp4)),
			packet.Info{Version: 4, Src: b4.Addr(), Dst: a4.Addr(), Proto: packet.ProtoICMP, L4Off: 20, HasL4: true, ICMPType: packet.ICMPv4Unreachable}, nil},
		{"an IPv6 packet quoted by ICMP is refused", packet.ICMP(b4.Addr(), a4.Addr(), packet.ICMPv4Unreachable, 0, append(make([]byte, 4), udp6...)),
			packet.Info{}, packet.ErrVersion},
		{"a quote shorter than an IP header is refused", icmpError(packet.ICMPv4Unreachable, udp4[:12]),
			packet.Info{}, packet.ErrShort},
		{"an echo reply quotes nothing", echo4, packet.Info{}, packet.ErrNoQuote},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outer, err := packet.Parse(tc.msg)
			if err != nil {
				t.Fatalf("Parse of the message: %v", err)
			}
			got, err := outer.Quoted(tc.msg)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("Quoted =\n %+v, %v\nwant\n %+v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range [][]byte{tcp4, udp6, echo4, echo6, withExt(tcp6, hbh8, dst16, first), withExt(udp6, later),
		fragment4(udp4, 0x2000), icmpError(packet.ICMPv6PacketTooBig, withExt(tcp6, rt24)), icmpError(packet.ICMPv4Unreachable, udp4[:28])} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, ip []byte) {
		info, err := packet.Parse(ip)
		h, herr := packet.ParseHeader(ip)
		if err != nil {
			return
		}
		// Whatever Parse accepts, the fast path accepts and reads alike.
		if herr != nil || h.Src != info.Src || h.Dst != info.Dst || h.Src.Is4() != (info.Version == 4) ||
			(info.Version == 4 && (h.Len != info.L4Off || h.Proto != info.Proto)) {
			t.Fatalf("ParseHeader = %+v, %v disagrees with Parse = %+v", h, herr, info)
		}
		if info.L4Off > len(ip) || info.Quote >= len(ip) || info.HasL4 && info.Frag == packet.LaterFragment {
			t.Fatalf("offsets out of the packet or fields from a later fragment: %+v (len %d)", info, len(ip))
		}
		if info.HasL4 && (info.Proto == packet.ProtoTCP || info.Proto == packet.ProtoUDP) {
			sp, dp := binary.BigEndian.Uint16(ip[info.L4Off:]), binary.BigEndian.Uint16(ip[info.L4Off+2:])
			if sp != info.SrcPort || dp != info.DstPort {
				t.Fatalf("ports %d, %d not those at L4Off: %+v", sp, dp, info)
			}
		}
		if q, err := info.Quoted(ip); err == nil && (q.Quote != 0 || q.L4Off > len(ip)-info.Quote) {
			t.Fatalf("quote %+v nests or points out of the packet", q)
		}
	})
}

var sinkInfo packet.Info
var sinkHeader packet.Header

// benchPackets are 1400-byte packets as the tunnel carries them.
func benchPackets() []struct {
	name string
	ip   []byte
} {
	return []struct {
		name string
		ip   []byte
	}{
		{"IPv4-UDP", packet.UDP(a4, b4, make([]byte, 1372))},
		{"IPv6-TCP", packet.TCP(a6, b6, 1, 2, packet.TCPAck, make([]byte, 1340))},
		{"IPv6-ext-TCP", withExt(packet.TCP(a6, b6, 1, 2, packet.TCPAck, make([]byte, 1316)), hbh8, dst16)},
	}
}

// BenchmarkParseHeader is the tunnel's per-packet parse: the fixed header
// and, as for a super-packet, the transport header length.
func BenchmarkParseHeader(b *testing.B) {
	for _, tc := range benchPackets() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, err := packet.ParseHeader(tc.ip)
				if err != nil || h.L4Len(tc.ip) == 0 && h.Proto != packet.ProtoHopOpts {
					b.Fatal(err)
				}
				sinkHeader = h
			}
		})
	}
}

// BenchmarkParse is the filter's parse: the header chain and transport.
func BenchmarkParse(b *testing.B) {
	for _, tc := range benchPackets() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				info, err := packet.Parse(tc.ip)
				if err != nil || !info.HasL4 {
					b.Fatal(err)
				}
				sinkInfo = info
			}
		})
	}
}

func TestICMPClassification(t *testing.T) {
	reply4 := packet.ICMP(b4.Addr(), a4.Addr(), packet.ICMPv4EchoReply, 0, make([]byte, 4))
	reply6 := packet.ICMP(b6.Addr(), a6.Addr(), packet.ICMPv6EchoReply, 0, make([]byte, 4))
	for _, tc := range []struct {
		name                string
		ip                  []byte
		err, request, reply bool
	}{
		{"an ICMP echo request", echo4, false, true, false},
		{"an ICMPv6 echo request", echo6, false, true, false},
		{"an ICMP echo reply", reply4, false, false, true},
		{"an ICMPv6 echo reply", reply6, false, false, true},
		{"an ICMP destination unreachable", icmpError(packet.ICMPv4Unreachable, udp4), true, false, false},
		{"an ICMP time exceeded without a quote", packet.ICMP(b4.Addr(), a4.Addr(), packet.ICMPv4TimeExceeded, 0, make([]byte, 4)), true, false, false},
		{"an ICMPv6 packet too big", icmpError(packet.ICMPv6PacketTooBig, tcp6), true, false, false},
		{"an ICMPv6 router solicitation (informational)", packet.ICMP(a6.Addr(), b6.Addr(), 133, 0, make([]byte, 4)), false, false, false},
		{"ICMP type 8 inside IPv6 (not ICMPv6)", mod(echo6, func(c []byte) { c[6] = packet.ProtoICMP }), false, false, false},
		{"ICMPv6 inside IPv4 (not ICMP)", mod(icmpError(packet.ICMPv4Unreachable, udp4), func(c []byte) { c[9] = packet.ProtoICMPv6 }), false, false, false},
		{"a UDP datagram", udp4, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, err := packet.Parse(tc.ip)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := i.ICMPError(); got != tc.err {
				t.Errorf("ICMPError = %v, want %v", got, tc.err)
			}
			if got := i.EchoRequest(); got != tc.request {
				t.Errorf("EchoRequest = %v, want %v", got, tc.request)
			}
			if got := i.EchoReply(); got != tc.reply {
				t.Errorf("EchoReply = %v, want %v", got, tc.reply)
			}
		})
	}
}
