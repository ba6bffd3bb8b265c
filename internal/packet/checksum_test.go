package packet_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

func TestSumMatchesTheRFC1071Reference(t *testing.T) {
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	for _, n := range []int{0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 65, 1499, 1500, 65535} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if got, want := packet.Sum(b, 0), uint16(refSum(b)); got != want {
			t.Errorf("Sum of %d random bytes = %#04x, reference %#04x", n, got, want)
		}
		// Split at an even boundary, the sums add up.
		h := n / 2 &^ 1
		if got, want := packet.Sum(b[h:], packet.Sum(b[:h], 0)), packet.Add(packet.Sum(b[:h], 0), packet.Sum(b[h:], 0)); got != want {
			t.Errorf("Sum over %d bytes in two parts: running %#04x, added %#04x", n, got, want)
		}
	}
	ones := []byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x01}
	if got := packet.Sum(ones, 0); got != 0x0001 {
		t.Errorf("end-around carry: Sum(% x) = %#04x, want 0x0001", ones, got)
	}
}

func TestChecksumOfAPacketWithItsChecksumIsZero(t *testing.T) {
	ip := packet.UDP(a6, b6, []byte("hello, odd"))
	l4 := ip[packet.IPv6HdrLen:]
	if c := packet.Checksum(l4, packet.PseudoSum(ip, packet.ProtoUDP, len(l4))); c != 0 {
		t.Errorf("checksum over a datagram with a correct field = %#04x, want 0", c)
	}
	v4 := packet.TCP(a4, b4, 1, 2, packet.TCPAck, []byte("x"))
	if c := packet.Checksum(v4[:packet.IPv4HdrLen], 0); c != 0 {
		t.Errorf("IPv4 header checksum residue %#04x, want 0", c)
	}
}

func TestPseudoSumMatchesTheRFCLayout(t *testing.T) {
	for _, ip := range [][]byte{packet.UDP(a4, b4, nil), packet.UDP(a6, b6, nil)} {
		const length = 70000 // an IPv6 pseudo-header length has 32 bits
		var ref []byte
		if ip[0]>>4 == 4 {
			ref = append(ref, ip[12:20]...)
		} else {
			ref = append(ref, ip[8:40]...)
		}
		ref = binary.BigEndian.AppendUint32(ref, length)
		ref = append(ref, 0, 0, 0, packet.ProtoTCP)
		if got, want := packet.PseudoSum(ip, packet.ProtoTCP, length), uint16(refSum(ref)); got != want {
			t.Errorf("IPv%d PseudoSum = %#04x, reference %#04x", ip[0]>>4, got, want)
		}
	}
}

func BenchmarkChecksum1500(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		sinkSum = packet.Checksum(buf, 0)
	}
}

var sinkSum uint16
