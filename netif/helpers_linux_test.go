package netif_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/internal/packet"
)

// Test address plan (docs/design.md, "The test topology"): the TUN holds
// the .1 addresses; .2 and .3 are peers that exist only as packets the test
// writes into the TUN.
var (
	local4  = netip.MustParseAddr("100.64.0.1")
	peer4   = netip.MustParseAddr("100.64.0.2")
	other4  = netip.MustParseAddr("100.64.0.3")
	local6  = netip.MustParseAddr("fd64::1")
	peer6   = netip.MustParseAddr("fd64::2")
	other6  = netip.MustParseAddr("fd64::3")
	tunNet4 = netip.MustParsePrefix("100.64.0.1/24")
	tunNet6 = netip.MustParsePrefix("fd64::1/64")
	lan4    = netip.MustParsePrefix("10.2.0.0/24")
	lan6    = netip.MustParsePrefix("fd02::/64")
)

// newTUN creates a TUN in the current (test) namespace and closes it in
// Cleanup.
func newTUN(t *testing.T, c netif.TUNConfig) *netif.TUN {
	t.Helper()
	if c.Logger == nil {
		c.Logger = testutil.Logger(t)
	}
	dev, err := netif.CreateTUN(c)
	if err != nil {
		t.Fatalf("CreateTUN(%+v): %v", c, err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// configure applies c to dev and fails the test on error.
func configure(t *testing.T, dev netif.Device, c netif.LinkConfig) func() error {
	t.Helper()
	undo, err := netif.Configure(dev.Name(), c)
	if err != nil {
		t.Fatalf("Configure(%s): %v", dev.Name(), err)
	}
	return undo
}

// withHdr prefixes pkt with a zeroed virtio header.
func withHdr(pkt []byte) []byte {
	return append(make([]byte, netif.VirtioHdrLen), pkt...)
}

// startReader reads dev on its own goroutine until Close and delivers a
// copy of every packet (header included). The goroutine is stopped and
// waited for in Cleanup.
func startReader(t *testing.T, dev netif.Device) <-chan []byte {
	out := make(chan []byte, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, netif.MaxPacket)
		for {
			n, err := dev.Read(buf, true)
			if errors.Is(err, netif.ErrClosed) {
				return
			}
			if err != nil {
				t.Errorf("Read: %v", err)
				return
			}
			select {
			case out <- append([]byte(nil), buf[:n]...):
			default: // the test stopped listening; drop
			}
		}
	}()
	t.Cleanup(func() {
		dev.Close()
		<-done
	})
	return out
}

// await returns the first packet from pkts that match accepts, failing the
// test after 10 s.
func await(t *testing.T, pkts <-chan []byte, what string, match func(ip []byte) bool) []byte {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-pkts:
			if ip := p[netif.VirtioHdrLen:]; match(ip) {
				return ip
			}
		case <-timeout:
			t.Fatalf("no %s read from the TUN within 10s", what)
		}
	}
}

// isEchoReply matches an ICMP or ICMPv6 echo reply from src to dst with id.
func isEchoReply(src, dst netip.Addr, id uint16) func(ip []byte) bool {
	return func(ip []byte) bool {
		s, d, proto, l4, ok := parseIP(ip)
		if !ok || s != src || d != dst || len(l4) < packet.ICMPHdrLen {
			return false
		}
		typ := uint8(packet.ICMPv4EchoReply)
		if proto == packet.ProtoICMPv6 {
			typ = packet.ICMPv6EchoReply
		} else if proto != packet.ProtoICMP {
			return false
		}
		return l4[0] == typ && uint16(l4[4])<<8|uint16(l4[5]) == id
	}
}

// parseIP splits an IPv4 (without options check beyond IHL) or IPv6
// (without extension headers) packet.
func parseIP(ip []byte) (src, dst netip.Addr, proto uint8, l4 []byte, ok bool) {
	if len(ip) < packet.IPv4HdrLen {
		return
	}
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0xf) * 4
		if ihl < packet.IPv4HdrLen || len(ip) < ihl {
			return
		}
		src = netip.AddrFrom4([4]byte(ip[12:16]))
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		return src, dst, ip[9], ip[ihl:], true
	case 6:
		if len(ip) < packet.IPv6HdrLen {
			return
		}
		src = netip.AddrFrom16([16]byte(ip[8:24]))
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		return src, dst, ip[6], ip[packet.IPv6HdrLen:], true
	}
	return
}
