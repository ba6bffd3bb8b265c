package netif_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/vishvananda/netlink"
)

const tunName = "tvtun0"

func TestCreateConfigureCloseLeavesNothingBehind(t *testing.T) {
	enterNetns(t)
	testutil.CheckLeaks(t)
	dev, err := netif.CreateTUN(netif.TUNConfig{Name: tunName, MTU: 1400, Offload: true, TxQueueLen: 64, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatalf("CreateTUN: %v", err)
	}
	defer dev.Close()
	undo := configure(t, dev, netif.LinkConfig{
		Addresses: []netip.Prefix{tunNet4, tunNet6},
		Routes:    []netip.Prefix{lan4, lan6},
	})

	link, err := netlink.LinkByName(tunName)
	if err != nil {
		t.Fatalf("interface %s not found after CreateTUN: %v", tunName, err)
	}
	attrs := link.Attrs()
	if attrs.MTU != 1400 || attrs.TxQLen != 64 || attrs.Flags&net.FlagUp == 0 {
		t.Errorf("interface %s: mtu %d, txqueuelen %d, flags %v; want 1400, 64, up", tunName, attrs.MTU, attrs.TxQLen, attrs.Flags)
	}
	checkAddr(t, link, tunNet4)
	checkAddr(t, link, tunNet6)
	for _, p := range []netip.Prefix{lan4, lan6} {
		if !routedVia(t, p, attrs.Index) {
			t.Errorf("no route for %s via %s after Configure", p, tunName)
		}
	}

	if err := undo(); err != nil {
		t.Fatalf("undo: %v", err)
	}
	for _, p := range []netip.Prefix{lan4, lan6} {
		if routedVia(t, p, attrs.Index) {
			t.Errorf("route for %s via %s still present after undo", p, tunName)
		}
	}
	if err := undo(); err != nil {
		t.Errorf("second undo: %v", err)
	}

	if err := dev.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "interface deleted after Close", func() bool {
		_, err := netlink.LinkByName(tunName)
		return err != nil
	})
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	for _, r := range routes {
		if r.LinkIndex == attrs.Index {
			t.Errorf("route %v still points at the deleted interface", r)
		}
	}
}

// checkAddr checks that p is on link and, for IPv6, not tentative (DAD
// skipped), so it is usable at once.
func checkAddr(t *testing.T, link netlink.Link, p netip.Prefix) {
	t.Helper()
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %s: %v", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		ip, _ := netip.AddrFromSlice(a.IP)
		if ip.Unmap() == p.Addr() && ones == p.Bits() {
			const tentative = 0x40 // IFA_F_TENTATIVE
			if a.Flags&tentative != 0 {
				t.Errorf("address %s on %s is tentative (DAD not skipped)", p, link.Attrs().Name)
			}
			return
		}
	}
	t.Errorf("address %s not on %s; have %v", p, link.Attrs().Name, addrs)
}

// routedVia reports whether a route for exactly p goes out ifindex.
func routedVia(t *testing.T, p netip.Prefix, ifindex int) bool {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == p.String() && r.LinkIndex == ifindex {
			return true
		}
	}
	return false
}

func TestCreateRefusesAnExistingInterface(t *testing.T) {
	enterNetns(t)
	notTUN := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "tvexist0"}}
	persistent := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: "tvexist1"}, Mode: netlink.TUNTAP_MODE_TUN}
	for _, l := range []netlink.Link{notTUN, persistent} {
		if err := netlink.LinkAdd(l); err != nil {
			t.Fatalf("add %s: %v", l.Attrs().Name, err)
		}
	}
	mine := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500})

	for _, name := range []string{"tvexist0", "tvexist1", mine.Name()} {
		dev, err := netif.CreateTUN(netif.TUNConfig{Name: name, MTU: 1500, Logger: testutil.Logger(t)})
		if err == nil {
			dev.Close()
			t.Errorf("CreateTUN(%s) took over an existing interface", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, "ip link del "+name) {
			t.Errorf("CreateTUN(%s) error %q does not name the interface and how to remove it", name, msg)
		}
	}
	if _, err := netlink.LinkByName("tvexist1"); err != nil {
		t.Errorf("the refused persistent TUN vanished: %v", err)
	}
}

func TestCreateRejectsBadConfig(t *testing.T) {
	for _, c := range []netif.TUNConfig{
		{Name: "", MTU: 1500},
		{Name: "a-name-of-16byte", MTU: 1500},
		{Name: "tv%d", MTU: 1500},
		{Name: tunName, MTU: 67},
		{Name: tunName, MTU: 65536},
		{Name: tunName, MTU: 1500, TxQueueLen: -1},
	} {
		if dev, err := netif.CreateTUN(c); err == nil {
			dev.Close()
			t.Errorf("CreateTUN(%+v) succeeded", c)
		}
	}
}

func TestEchoRequestWrittenIntoTheTUNGetsItsReplyOnRead(t *testing.T) {
	ns := enterNetns(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500, Offload: true})
	configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4, tunNet6}})
	pkts := startReader(t, dev)

	for _, tc := range []struct {
		name        string
		local, peer netip.Addr
		req         func(src, dst netip.Addr, id, seq uint16, payload []byte) []byte
	}{
		{"IPv4", local4, peer4, packet.ICMPEcho},
		{"IPv6", local6, peer6, packet.ICMPEcho},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const id = 0x7475
			if err := dev.Write(withHdr(tc.req(tc.peer, tc.local, id, 1, []byte("tlsvpn netif echo")))); err != nil {
				t.Fatalf("Write echo request: %v", err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					dumpNetns(t, ns)
				}
			})
			reply := await(t, pkts, "echo reply", isEchoReply(tc.local, tc.peer, id))
			if !bytes.HasSuffix(reply, []byte("tlsvpn netif echo")) {
				t.Errorf("echo reply does not carry the request's payload: % x", reply)
			}
		})
	}
}

func TestUDPBuiltByPacketIsAcceptedByTheKernel(t *testing.T) {
	ns := enterNetns(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500, Offload: true})
	configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4, tunNet6}})
	for _, tc := range []struct {
		name        string
		local, peer netip.Addr
		build       func(src, dst netip.AddrPort, payload []byte) []byte
	}{
		{"IPv4", local4, peer4, packet.UDP},
		{"IPv6", local6, peer6, packet.UDP},
	} {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tc.local, 0)))
		if err != nil {
			t.Fatalf("%s: listen: %v", tc.name, err)
		}
		defer conn.Close()
		to := conn.LocalAddr().(*net.UDPAddr).AddrPort()
		from := netip.AddrPortFrom(tc.peer, 4321)
		if err := dev.Write(withHdr(tc.build(from, to, []byte("datagram")))); err != nil {
			t.Fatalf("%s: Write: %v", tc.name, err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			dumpNetns(t, ns)
			t.Fatalf("%s: the kernel did not deliver the datagram: %v", tc.name, err)
		}
		if string(buf[:n]) != "datagram" || src.Addr().Unmap() != from.Addr() || src.Port() != from.Port() {
			t.Errorf("%s: got %q from %v, want %q from %v", tc.name, buf[:n], src, "datagram", from)
		}
	}
}

func TestProbeResultIsLoggedAndOffered(t *testing.T) {
	enterNetns(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500, Offload: true, Logger: logger})
	t.Logf("kernel accepts GSO writes of: %v", dev.Offload())
	if dev.Offload()&^netif.AllOffloads != 0 {
		t.Errorf("Offload() = %v has unknown bits", dev.Offload())
	}
	if !strings.Contains(logs.String(), "GSO write probe") || !strings.Contains(logs.String(), "accepted="+dev.Offload().String()) {
		t.Errorf("probe result not logged; log:\n%s", logs.String())
	}
	if link, err := netlink.LinkByName(tunName); err != nil || link.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("the probe must leave the link down as created (err %v)", err)
	}

	plain := newTUN(t, netif.TUNConfig{Name: "tvplain0", MTU: 1500, Offload: false})
	if plain.Offload() != 0 {
		t.Errorf("device created without offloads reports Offload() = %v", plain.Offload())
	}
}

func TestReadAndWriteDoNotAllocate(t *testing.T) {
	enterNetns(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500, Offload: true})
	configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4}})
	req := withHdr(packet.ICMPEcho(peer4, local4, 1, 1, make([]byte, 56)))
	buf := make([]byte, netif.MaxPacket)
	watchdog := time.AfterFunc(60*time.Second, func() { dev.Close() }) // a lost reply must not hang the test
	defer watchdog.Stop()

	checkNoAllocs(t, dev, req, buf)
}

// checkNoAllocs checks that writing req, which makes the kernel queue an
// answer, then reading, allocates nothing; and neither does a Read that
// finds nothing queued.
func checkNoAllocs(t *testing.T, dev netif.Device, req, buf []byte) {
	t.Helper()
	allocs := testing.AllocsPerRun(200, func() {
		if err := dev.Write(req); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if _, err := dev.Read(buf, true); err != nil {
			t.Fatalf("Read: %v", err)
		}
	})
	if allocs != 0 {
		t.Errorf("Write + Read(wait) allocate %v times per call, want 0", allocs)
	}
	drain := testing.AllocsPerRun(100, func() {
		if _, err := dev.Read(buf, false); err != nil {
			t.Fatalf("Read(no wait): %v", err)
		}
	})
	if drain != 0 {
		t.Errorf("Read without waiting allocates %v times per call, want 0", drain)
	}
}

func TestCloseUnblocksABlockedRead(t *testing.T) {
	enterNetns(t)
	testutil.CheckLeaks(t)
	dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: 1500, Offload: true})
	buf := make([]byte, netif.MaxPacket)
	if n, err := dev.Read(buf, false); n != 0 || err != nil {
		t.Fatalf("Read(no wait) on an idle device = %d, %v; want 0, nil", n, err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := dev.Read(buf, true)
		res <- err
	}()
	if err := dev.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, netif.ErrClosed) {
			t.Errorf("blocked Read returned %v after Close, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not unblock Read within 10s")
	}
	if _, err := dev.Read(buf, true); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := dev.Write(withHdr(make([]byte, 20))); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := dev.SetOffload(0); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("SetOffload after Close = %v, want ErrClosed", err)
	}
}
