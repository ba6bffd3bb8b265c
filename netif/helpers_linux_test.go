package netif_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
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
		info, err := packet.Parse(ip)
		if err != nil || !info.HasL4 || info.Src != src || info.Dst != dst || info.EchoID != id {
			return false
		}
		return info.ICMPType == packet.ICMPv4EchoReply && info.Proto == packet.ProtoICMP ||
			info.ICMPType == packet.ICMPv6EchoReply && info.Proto == packet.ProtoICMPv6
	}
}
