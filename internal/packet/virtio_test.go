package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

func TestVirtioHdrPutParseIsAFixedPoint(t *testing.T) {
	want := packet.VirtioHdr{Flags: 3, GSOType: 0x85, HdrLen: 0x1234, GSOSize: 0xfffe, CsumStart: 40, CsumOffset: 16}
	b := make([]byte, packet.VirtioHdrLen)
	want.Put(b)
	if !bytes.Equal(b, []byte{3, 0x85, 0x34, 0x12, 0xfe, 0xff, 40, 0, 16, 0}) {
		t.Errorf("Put wrote % x, want little-endian fields", b)
	}
	if got, ok := packet.ParseVirtioHdr(b); !ok || got != want {
		t.Errorf("ParseVirtioHdr(Put(h)) = %+v, %v; want %+v", got, ok, want)
	}
	if _, ok := packet.ParseVirtioHdr(b[:9]); ok {
		t.Error("ParseVirtioHdr accepted 9 bytes")
	}
}

func TestVirtioHdrCheck(t *testing.T) {
	payload := make([]byte, 3000)
	super := func(pkt []byte, f func(*packet.VirtioHdr)) []byte {
		return mod(pkt, func(c []byte) { h, _ := packet.ParseVirtioHdr(c); f(&h); h.Put(c) })
	}
	tcp4s, tcp6s := packet.TCPSuper(a4, b4, 1, 1000, payload), packet.TCPSuper(a6, b6, 1, 1000, payload)
	udp6s := packet.UDPSuper(a6, b6, 1000, payload)
	plain := append(make([]byte, packet.VirtioHdrLen), udp4...)
	tests := []struct {
		name    string
		pkt     []byte
		hdrLen  int
		wantErr error
	}{
		{"a plain packet passes with hdr_len 0", plain, 0, nil},
		{"a plain packet with its checksum field inside passes", super(plain, func(h *packet.VirtioHdr) { h.Flags, h.CsumStart, h.CsumOffset = 1, 20, 6 }), 0, nil},
		{"a plain packet with its checksum field outside is refused", super(plain, func(h *packet.VirtioHdr) { h.Flags, h.CsumStart, h.CsumOffset = 1, 20, 16 }), 0, packet.ErrGSO},
		{"a TCPv4 super-packet passes", tcp4s, 40, nil},
		{"a TCPv4 super-packet with the ECN flag passes", super(tcp4s, func(h *packet.VirtioHdr) { h.GSOType |= packet.GSOECN }), 40, nil},
		{"a TCPv6 super-packet passes whatever hdr_len says", super(tcp6s, func(h *packet.VirtioHdr) { h.HdrLen = 1 }), 60, nil},
		{"a UDP_L4 super-packet over IPv6 passes", udp6s, 48, nil},
		{"UDP_L4 with the ECN flag is refused", super(udp6s, func(h *packet.VirtioHdr) { h.GSOType |= packet.GSOECN }), 0, packet.ErrGSO},
		{"TCPv6 on an IPv4 packet is refused", super(tcp4s, func(h *packet.VirtioHdr) { h.GSOType = packet.GSOTCPv6 }), 0, packet.ErrGSO},
		{"UDP_L4 on a TCP packet is refused", super(tcp4s, func(h *packet.VirtioHdr) { h.GSOType = packet.GSOUDPL4 }), 0, packet.ErrGSO},
		{"an unknown GSO type is refused", super(tcp4s, func(h *packet.VirtioHdr) { h.GSOType = 3 }), 0, packet.ErrGSO},
		{"a super-packet without NEEDS_CSUM is refused", super(tcp4s, func(h *packet.VirtioHdr) { h.Flags = packet.VirtioDataValid }), 0, packet.ErrGSO},
		{"csum_start past the transport header is refused", super(tcp6s, func(h *packet.VirtioHdr) { h.CsumStart = 48 }), 0, packet.ErrGSO},
		{"a UDP checksum offset on TCP is refused", super(tcp6s, func(h *packet.VirtioHdr) { h.CsumOffset = 6 }), 0, packet.ErrGSO},
		{"gso_size 0 is refused", super(udp6s, func(h *packet.VirtioHdr) { h.GSOSize = 0 }), 0, packet.ErrGSO},
		{"IPv6 extension headers are refused", append(tcp6s[:10:10], withExt(tcp6s[10:], dst16)...), 0, packet.ErrGSO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := packet.ParseVirtioHdr(tc.pkt)
			ip := tc.pkt[packet.VirtioHdrLen:]
			hdr, err := packet.ParseHeader(ip)
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			n, err := h.Check(ip, hdr)
			if !errors.Is(err, tc.wantErr) || n != tc.hdrLen {
				t.Fatalf("Check = %d, %v; want %d, %v", n, err, tc.hdrLen, tc.wantErr)
			}
		})
	}
}

func TestSetPartialGivesTheFormTheBuilderMakes(t *testing.T) {
	for _, want := range [][]byte{packet.TCPSuper(a4, b4, 9, 500, make([]byte, 1200)), packet.UDPSuper(a6, b6, 500, make([]byte, 1201))} {
		got := bytes.Clone(want)
		h, _ := packet.ParseVirtioHdr(got)
		h.Flags, h.CsumStart, h.CsumOffset = packet.VirtioDataValid, 0, 0
		h.Put(got)
		hdr, _ := packet.ParseHeader(got[packet.VirtioHdrLen:])
		copy(got[packet.VirtioHdrLen+hdr.Len+int(want[8]):], []byte{0xde, 0xad}) // a complete checksum, say
		if err := packet.SetPartial(got, hdr); err != nil {
			t.Fatalf("SetPartial: %v", err)
		}
		got[0] &^= packet.VirtioDataValid // kept; the builder does not set it
		if !bytes.Equal(got, want) {
			t.Errorf("SetPartial gave\n % x\nwant\n % x", got[:70], want[:70])
		}
	}
	icmp := append(make([]byte, packet.VirtioHdrLen), echo4...)
	hdr, _ := packet.ParseHeader(echo4)
	if err := packet.SetPartial(icmp, hdr); !errors.Is(err, packet.ErrGSO) {
		t.Errorf("SetPartial of an ICMP packet = %v, want ErrGSO", err)
	}
}

func TestMarkCE(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ip     []byte
		marked bool
	}{
		{"IPv4 ECT(0) is marked", mod(udp4, func(c []byte) { c[1] = 0x02 }), true},
		{"IPv4 CE stays CE", mod(udp4, func(c []byte) { c[1] = 0x03 }), true},
		{"IPv4 not-ECT is left for a drop", udp4, false},
		{"IPv6 ECT(1) is marked", mod(udp6, func(c []byte) { c[1] = 0x1f }), true},
		{"IPv6 not-ECT is left for a drop", mod(udp6, func(c []byte) { c[1] = 0x0f }), false},
		{"a truncated header is left alone", udp4[:12], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := bytes.Clone(tc.ip)
			if got := packet.MarkCE(ip); got != tc.marked {
				t.Fatalf("MarkCE = %v, want %v", got, tc.marked)
			}
			switch {
			case !tc.marked && !bytes.Equal(ip, tc.ip):
				t.Fatal("an unmarked packet was changed")
			case !tc.marked:
			case ip[0]>>4 == 4:
				if ip[1]&3 != 3 || refSum(ip[:20]) != 0xffff || ip[1]&^3 != tc.ip[1]&^3 {
					t.Fatalf("TOS %#02x or header checksum wrong after marking", ip[1])
				}
			default:
				if ip[1]&0x30 != 0x30 || ip[1]&^0x30 != tc.ip[1]&^0x30 || ip[0] != tc.ip[0] {
					t.Fatalf("traffic class bits %#02x %#02x wrong after marking", ip[0], ip[1])
				}
			}
		})
	}
}
