package packet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// randomBytes returns n bytes from a fixed seed.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(n)}).Read(b)
	return b
}

// superWith returns a copy of super with TCP flags flags and IPv4 ID id
// (IPv4 header checksum fixed; the partial TCP checksum covers neither).
func superWith(super []byte, flags uint8, id uint16) []byte {
	return mod(super, func(c []byte) {
		ip := c[packet.VirtioHdrLen:]
		hdr, _ := packet.ParseHeader(ip)
		if hdr.Proto == packet.ProtoTCP {
			ip[hdr.Len+13] = flags
		}
		if hdr.Src.Is4() {
			binary.BigEndian.PutUint16(ip[4:], id)
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], ^uint16(refSum(ip[:hdr.Len])))
		}
	})
}

// segmentAll cuts super into fresh buffers of maxLen bytes.
func segmentAll(t testing.TB, super []byte) [][]byte {
	n, maxLen, err := packet.Segments(super)
	if err != nil {
		t.Fatalf("Segments: %v", err)
	}
	bufs, sizes := make([][]byte, n), make([]int, n)
	for i := range bufs {
		bufs[i] = make([]byte, maxLen)
	}
	got, err := packet.Segment(super, bufs, sizes)
	if err != nil || got != n {
		t.Fatalf("Segment = %d, %v; Segments said %d", got, err, n)
	}
	for i := range bufs {
		bufs[i] = bufs[i][:sizes[i]]
	}
	return bufs
}

// checkSegments verifies segs against the super-packet they came from:
// plain virtio headers, valid lengths and checksums (independently
// verified), the payload in order, and per protocol the IDs, sequence
// numbers and flags the kernel gives.
func checkSegments(t *testing.T, super []byte, segs [][]byte) {
	t.Helper()
	sip := super[packet.VirtioHdrLen:]
	vh, _ := packet.ParseVirtioHdr(super)
	shdr, _ := packet.ParseHeader(sip)
	hl := shdr.Len + shdr.L4Len(sip)
	var payload []byte
	for i, seg := range segs {
		if !bytes.Equal(seg[:packet.VirtioHdrLen], make([]byte, packet.VirtioHdrLen)) {
			t.Errorf("segment %d: virtio header % x, want zeros", i, seg[:packet.VirtioHdrLen])
		}
		ip := seg[packet.VirtioHdrLen:]
		if err := verifyIP(ip); err != nil {
			t.Errorf("segment %d: %v", i, err)
		}
		last := i == len(segs)-1
		if want := int(vh.GSOSize); len(ip)-hl != want && !last || len(ip)-hl > want {
			t.Errorf("segment %d carries %d bytes, gso_size %d", i, len(ip)-hl, want)
		}
		if shdr.Src.Is4() {
			if id, want := binary.BigEndian.Uint16(ip[4:]), binary.BigEndian.Uint16(sip[4:])+uint16(i); id != want {
				t.Errorf("segment %d: IPv4 ID %#x, want %#x", i, id, want)
			}
		}
		l4 := ip[shdr.Len:]
		if shdr.Proto == packet.ProtoTCP {
			seq, want := binary.BigEndian.Uint32(l4[4:]), binary.BigEndian.Uint32(sip[shdr.Len+4:])+uint32(len(payload))
			flags, sflags := l4[13], sip[shdr.Len+13]
			wantFlags := sflags
			if !last {
				wantFlags &^= packet.TCPFin | packet.TCPPsh
			}
			if i > 0 {
				wantFlags &^= packet.TCPCwr
			}
			if seq != want || flags != wantFlags {
				t.Errorf("segment %d: seq %d flags %#02x, want %d %#02x", i, seq, flags, want, wantFlags)
			}
		}
		payload = append(payload, ip[hl:]...)
	}
	if !bytes.Equal(payload, sip[hl:]) {
		t.Errorf("the segments carry %d bytes that differ from the super-packet's %d", len(payload), len(sip)-hl)
	}
}

func TestSegment(t *testing.T) {
	allFlags := uint8(packet.TCPAck | packet.TCPPsh | packet.TCPFin | packet.TCPCwr | packet.TCPEce)
	tests := []struct {
		name  string
		super []byte
		n     int
	}{
		{"a TCPv4 super-packet with a short last segment", superWith(packet.TCPSuper(a4, b4, 0xfffffc00, 1000, randomBytes(2500)), allFlags, 0xffff), 3},
		{"a TCPv6 super-packet of whole segments", superWith(packet.TCPSuper(a6, b6, 7, 1440, randomBytes(4*1440)), allFlags, 0), 4},
		{"a 64 KiB TCPv4 super-packet", packet.TCPSuper(a4, b4, 1, 1448, randomBytes(45*1448)), 45},
		{"a super-packet smaller than one segment", superWith(packet.TCPSuper(a4, b4, 1, 1448, randomBytes(100)), allFlags, 1), 1},
		{"a super-packet of headers only", packet.TCPSuper(a6, b6, 1, 1448, nil), 1},
		{"a UDP_L4 super-packet over IPv4 with an odd last datagram", superWith(packet.UDPSuper(a4, b4, 1200, randomBytes(3001)), 0, 0x8000), 3},
		{"a UDP_L4 super-packet over IPv6", packet.UDPSuper(a6, b6, 1232, randomBytes(10*1232)), 10},
		{"a TCPv4 super-packet with the ECN flag", mod(packet.TCPSuper(a4, b4, 1, 500, randomBytes(1200)), func(c []byte) { c[1] |= packet.GSOECN }), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.super)
			segs := segmentAll(t, tc.super)
			if len(segs) != tc.n {
				t.Fatalf("%d segments, want %d", len(segs), tc.n)
			}
			checkSegments(t, tc.super, segs)
			if !bytes.Equal(tc.super, orig) {
				t.Error("Segment changed its input")
			}
		})
	}
}

func TestSegmentRefuses(t *testing.T) {
	super := packet.TCPSuper(a4, b4, 1, 1000, randomBytes(2500))
	room := func(n, size int) [][]byte {
		b := make([][]byte, n)
		for i := range b {
			b[i] = make([]byte, size)
		}
		return b
	}
	tests := []struct {
		name string
		pkt  []byte
		bufs [][]byte
		want error
	}{
		{"a plain packet", append(make([]byte, packet.VirtioHdrLen), udp4...), room(3, 2000), packet.ErrGSO},
		{"a bad IP length field", mod(super, func(c []byte) { c[12]++ }), room(3, 2000), packet.ErrLength},
		{"a bad GSO header", mod(super, func(c []byte) { c[8] = 6 }), room(3, 2000), packet.ErrGSO},
		{"a virtio header cut short", super[:6], room(3, 2000), packet.ErrShort},
		{"too few buffers", super, room(2, 2000), packet.ErrNoRoom},
		{"a buffer too small for a full segment", super, append(room(2, 2000), make([]byte, 10+40+499)), packet.ErrNoRoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sizes := make([]int, len(tc.bufs))
			n, err := packet.Segment(tc.pkt, tc.bufs, sizes)
			if !errors.Is(err, tc.want) || n != 0 {
				t.Fatalf("Segment = %d, %v; want 0, %v", n, err, tc.want)
			}
			for i, b := range tc.bufs {
				if !bytes.Equal(b, make([]byte, len(b))) {
					t.Fatalf("buffer %d written before the refusal", i)
				}
			}
		})
	}
}

func TestSegmentDoesNotAllocate(t *testing.T) {
	super := packet.TCPSuper(a6, b6, 1, 1440, randomBytes(45*1440))
	bufs, sizes := make([][]byte, 45), make([]int, 45)
	for i := range bufs {
		bufs[i] = make([]byte, packet.VirtioHdrLen+1500)
	}
	if a := testing.AllocsPerRun(100, func() {
		if _, err := packet.Segment(super, bufs, sizes); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("Segment allocates %v times per call", a)
	}
}

func FuzzSegment(f *testing.F) {
	f.Add(packet.TCPSuper(a4, b4, 1, 100, randomBytes(250)), uint8(0x19))
	f.Add(packet.TCPSuper(a6, b6, 1, 7, randomBytes(30)), uint8(0x80))
	f.Add(packet.UDPSuper(a4, b4, 3, randomBytes(10)), uint8(0))
	f.Add(packet.UDPSuper(a6, b6, 64, randomBytes(65)), uint8(0))
	f.Fuzz(func(t *testing.T, pkt []byte, flags uint8) {
		if len(pkt) > packet.VirtioHdrLen+packet.IPv4HdrLen+packet.TCPHdrLen {
			if hdr, err := packet.ParseHeader(pkt[packet.VirtioHdrLen:]); err == nil && hdr.Proto == packet.ProtoTCP {
				pkt[packet.VirtioHdrLen+hdr.Len+13] = flags
			}
		}
		n, maxLen, err := packet.Segments(pkt)
		if err != nil || n > 4096 {
			return
		}
		bufs, sizes := make([][]byte, n), make([]int, n)
		for i := range bufs {
			bufs[i] = make([]byte, maxLen)
		}
		if _, err := packet.Segment(pkt, bufs, sizes); err != nil {
			t.Fatalf("Segments accepted what Segment refuses: %v", err)
		}
		for i := range bufs {
			bufs[i] = bufs[i][:sizes[i]]
		}
		checkSegments(t, pkt, bufs)
	})
}

// BenchmarkSegment cuts a 64 KiB TCPv4 super-packet into 45 segments.
func BenchmarkSegment(b *testing.B) {
	super := packet.TCPSuper(netip.MustParseAddrPort("10.1.0.10:40000"), netip.MustParseAddrPort("10.2.0.10:5201"), 1, 1448, randomBytes(45*1448))
	bufs, sizes := make([][]byte, 45), make([]int, 45)
	for i := range bufs {
		bufs[i] = make([]byte, packet.VirtioHdrLen+1500)
	}
	b.SetBytes(int64(len(super)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := packet.Segment(super, bufs, sizes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*45), "ns/segment")
}
