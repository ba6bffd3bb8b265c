package netif_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"
	"unsafe"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/packet"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Layer-2 LAN of the test plan: a host on the bridge, and a remote host
// that exists only as frames the test writes into the TAP.
var (
	lanHost   = netip.MustParseAddr("10.9.0.10")
	lanRemote = netip.MustParseAddr("10.9.0.20")
	remoteMAC = l2.MAC{0x02, 0x00, 0x00, 0x09, 0x00, 0x20}
)

// etherTypeExperimental is IEEE 802's local experimental EtherType 1: no
// host stack does anything with it.
const etherTypeExperimental = 0x88b5

func TestTAPOnABridgeCarriesFramesBothWays(t *testing.T) {
	enterNetns(t)
	testutil.CheckLeaks(t)
	hostNS, hostMAC := bridgedHost(t, bridgeName)
	dev := newTAP(t, netif.TAPConfig{Name: tapName, MTU: 1500, Bridge: bridgeName})
	br, err := netlink.LinkByName(bridgeName)
	if err != nil {
		t.Fatal(err)
	}
	if link := tuntap(t, tapName); link.Attrs().MasterIndex != br.Attrs().Index || dev.Bridge() != bridgeName {
		t.Fatalf("%s has master index %d, want bridge %s (%d)", tapName, link.Attrs().MasterIndex, bridgeName, br.Attrs().Index)
	}
	frames := startReader(t, dev)

	// ARP: the remote host asks for the LAN host's MAC.
	arp := netiftest.ARP(netiftest.ARPRequest, remoteMAC, lanRemote, l2.MAC{}, lanHost)
	write(t, dev, netiftest.EthernetFrame(l2.Header{Dst: l2.Broadcast, Src: remoteMAC, EtherType: netiftest.EtherTypeARP}, arp))
	awaitFrame(t, frames, "ARP reply from the LAN host", func(f []byte, h *l2.Header) bool {
		op, sMAC, s, tMAC, tgt, ok := netiftest.ParseARP(f[h.Len():])
		return ok && h.Dst == remoteMAC && h.Src == hostMAC && op == netiftest.ARPReply &&
			sMAC == hostMAC && s == lanHost && tMAC == remoteMAC && tgt == lanRemote
	})

	// ICMP: the remote host pings the LAN host.
	const id = 0x7a9
	echo := packet.ICMPEcho(lanRemote, lanHost, id, 1, []byte("through the bridge"))
	write(t, dev, netiftest.EthernetFrame(l2.Header{Dst: hostMAC, Src: remoteMAC, EtherType: netiftest.EtherTypeIPv4}, echo))
	awaitFrame(t, frames, "echo reply from the LAN host", func(f []byte, h *l2.Header) bool {
		return h.Dst == remoteMAC && h.EtherType == netiftest.EtherTypeIPv4 &&
			isEchoReply(lanHost, lanRemote, id)(f[h.Len():])
	})

	// The largest frames, MTU + 18 with an 802.1Q tag, cross whole each way.
	sock := openPacketSocket(t, hostNS, "tvlan1")
	out := fullFrame(l2.Header{Dst: hostMAC, Src: remoteMAC, Tagged: true, TCI: 100, EtherType: etherTypeExperimental}, 1500)
	write(t, dev, out)
	if got := sock.await(t, "tagged full-size frame from the TAP"); !bytes.Equal(got, out) {
		t.Errorf("the LAN host got a frame of %d bytes, want the TAP's %d bytes", len(got), len(out))
	}
	in := fullFrame(l2.Header{Dst: remoteMAC, Src: hostMAC, Tagged: true, TCI: 0xe064, EtherType: etherTypeExperimental}, 1500)
	sock.send(t, in)
	got := awaitFrame(t, frames, "tagged full-size frame from the LAN host", func(f []byte, h *l2.Header) bool {
		return h.EtherType == etherTypeExperimental && h.Src == hostMAC
	})
	if !bytes.Equal(got, in) || len(got) != 1500+l2.MaxOverhead {
		t.Errorf("the TAP read a frame of %d bytes, want the host's %d bytes", len(got), len(in))
	}

	if err := dev.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "TAP gone from the bridge after Close", func() bool {
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatalf("list links: %v", err)
		}
		for _, l := range links {
			if l.Attrs().Name == tapName || l.Attrs().MasterIndex == br.Attrs().Index && l.Attrs().Name != "tvlan0" {
				return false
			}
		}
		return true
	})
}

func write(t *testing.T, dev netif.Device, frame []byte) {
	t.Helper()
	if err := dev.Write(frame); err != nil {
		t.Fatalf("Write of a %d-byte frame: %v", len(frame), err)
	}
}

// fullFrame is a frame with header h and a payload of n counting bytes.
func fullFrame(h l2.Header, n int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i)
	}
	return netiftest.EthernetFrame(h, payload)
}

// awaitFrame returns the first frame from frames that match accepts,
// failing the test after 10 s.
func awaitFrame(t *testing.T, frames <-chan []byte, what string, match func(f []byte, h *l2.Header) bool) []byte {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-frames:
			var h l2.Header
			if l2.Parse(f, &h) && match(f, &h) {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s read from the TAP within 10s", what)
		}
	}
}

// bridgedHost builds, around the test's namespace, a bridge with a veth
// whose other end is the only interface of a second namespace holding
// lanHost/24: a LAN with one host. It returns the host's namespace and
// its MAC. Everything is deleted in Cleanup.
func bridgedHost(t *testing.T, bridge string) (hostNS string, hostMAC l2.MAC) {
	t.Helper()
	br := addBridge(t, bridge)
	hostNS = lab.UniqueName("lanhost")
	run(t, "ip", "netns", "add", hostNS)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", hostNS).CombinedOutput(); err != nil {
			t.Errorf("delete network namespace %s: %v\n%s", hostNS, err, out)
		}
	})
	h, err := netns.GetFromName(hostNS)
	if err != nil {
		t.Fatalf("open network namespace %s: %v", hostNS, err)
	}
	defer h.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "tvlan0", MasterIndex: br.Attrs().Index},
		PeerName: "tvlan1", PeerNamespace: netlink.NsFd(int(h))}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth pair into %s: %v", hostNS, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatalf("set tvlan0 up: %v", err)
	}
	run(t, "ip", "-n", hostNS, "addr", "add", lanHost.String()+"/24", "dev", "tvlan1")
	run(t, "ip", "-n", hostNS, "link", "set", "tvlan1", "up")
	inNetns(t, hostNS, func() {
		ifc, err := net.InterfaceByName("tvlan1")
		if err != nil {
			t.Fatalf("look up tvlan1 in %s: %v", hostNS, err)
		}
		hostMAC = l2.MAC(ifc.HardwareAddr)
	})
	return hostNS, hostMAC
}

// inNetns runs fn on the test's thread inside namespace name, then
// returns the thread to the namespace it was in. Sockets made in fn stay
// in name.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	cur, err := netns.Get()
	if err != nil {
		t.Fatalf("get current network namespace: %v", err)
	}
	defer cur.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open network namespace %s: %v", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatalf("enter network namespace %s: %v", name, err)
	}
	defer func() {
		if err := netns.Set(cur); err != nil {
			t.Fatalf("return from network namespace %s: %v", name, err)
		}
	}()
	fn()
}

// packetSocket is an AF_PACKET socket on one interface: it sends frames
// as they are and receives every frame, with the 802.1Q tag the kernel
// took off on receive put back.
type packetSocket struct {
	fd      int
	ifindex int
}

// openPacketSocket opens a packet socket on ifname in namespace ns and
// closes it in Cleanup.
func openPacketSocket(t *testing.T, ns, ifname string) *packetSocket {
	t.Helper()
	s := &packetSocket{fd: -1}
	inNetns(t, ns, func() {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			t.Fatalf("look up %s in %s: %v", ifname, ns, err)
		}
		s.ifindex = ifc.Index
		all := int(htons(unix.ETH_P_ALL))
		if s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, all); err != nil {
			t.Fatalf("open a packet socket in %s: %v", ns, err)
		}
	})
	t.Cleanup(func() { unix.Close(s.fd) })
	if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.ifindex}); err != nil {
		t.Fatalf("bind the packet socket to %s: %v", ifname, err)
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		t.Fatalf("PACKET_AUXDATA: %v", err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatalf("SO_RCVTIMEO: %v", err)
	}
	return s
}

func (s *packetSocket) send(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := unix.Write(s.fd, frame); err != nil {
		t.Fatalf("send a %d-byte frame on the packet socket: %v", len(frame), err)
	}
}

// await returns the first frame the interface receives (not one it sends),
// failing the test after 10 s.
func (s *packetSocket) await(t *testing.T, what string) []byte {
	t.Helper()
	buf, oob := make([]byte, 65536), make([]byte, 256)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		n, oobn, _, from, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("receive on the packet socket: %v", err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		return withTag(t, buf[:n], oob[:oobn])
	}
	t.Fatalf("no %s within 10s", what)
	return nil
}

// withTag puts back the 802.1Q tag that the kernel moved from frame into
// its auxiliary data on receive.
func withTag(t *testing.T, frame, oob []byte) []byte {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		t.Fatalf("parse packet auxiliary data: %v", err)
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		status := binary.NativeEndian.Uint32(m.Data[unsafe.Offsetof(unix.TpacketAuxdata{}.Status):])
		if status&unix.TP_STATUS_VLAN_VALID == 0 {
			return append([]byte(nil), frame...)
		}
		tci := binary.NativeEndian.Uint16(m.Data[unsafe.Offsetof(unix.TpacketAuxdata{}.Vlan_tci):])
		tag := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, l2.TPIDVLAN), tci)
		return append(append(append([]byte(nil), frame[:2*l2.MACLen]...), tag...), frame[2*l2.MACLen:]...)
	}
	return append([]byte(nil), frame...)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func TestTAPWithAnAddressAnswersARPAndReadWriteDoNotAllocate(t *testing.T) {
	enterNetns(t)
	dev := newTAP(t, netif.TAPConfig{Name: tapName, MTU: 1500})
	own := netip.MustParseAddr("10.9.0.1")
	configure(t, dev, netif.LinkConfig{Addresses: []netip.Prefix{netip.PrefixFrom(own, 24)}})
	req := netiftest.EthernetFrame(l2.Header{Dst: l2.Broadcast, Src: remoteMAC, EtherType: netiftest.EtherTypeARP},
		netiftest.ARP(netiftest.ARPRequest, remoteMAC, lanRemote, l2.MAC{}, own))
	buf := make([]byte, netif.MaxPacket)
	watchdog := time.AfterFunc(60*time.Second, func() { dev.Close() }) // a lost reply must not hang the test
	defer watchdog.Stop()

	// The first reply shows the kernel answers; IPv6 may queue other
	// frames (router solicitations), so read until the reply comes.
	write(t, dev, req)
	for {
		n, err := dev.Read(buf, true)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		var h l2.Header
		if !l2.Parse(buf[:n], &h) || h.EtherType != netiftest.EtherTypeARP {
			continue
		}
		op, sMAC, s, _, _, ok := netiftest.ParseARP(buf[h.Len():n])
		if !ok || op != netiftest.ARPReply || sMAC != l2.MAC(dev.MAC()) || s != own {
			t.Fatalf("ARP frame % x is not the TAP's reply", buf[:n])
		}
		break
	}
	checkNoAllocs(t, dev, req, buf)
}
