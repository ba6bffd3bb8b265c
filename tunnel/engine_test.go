package tunnel

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

var (
	netA = netip.MustParsePrefix("10.1.0.0/24")
	netB = netip.MustParsePrefix("10.2.0.0/24")
	tunA = netip.MustParsePrefix("100.64.0.1/32")
	tunB = netip.MustParsePrefix("100.64.0.2/32")
)

// site is one engine with its fake device.
type site struct {
	name string
	dev  netif.Device
	eng  *Engine
	ln   net.Listener
}

func creds(f *certtest.Factory, name string) *trust.Credentials {
	return f.Credentials(f.Leaf(certtest.LeafOpts{Names: []string{name}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}))
}

// newSite makes an engine called name whose only peer is peer; with
// listen it accepts on loopback, otherwise it dials endpoint.
func newSite(t testing.TB, f *certtest.Factory, name string, dev netif.Device, peer PeerConfig, listen bool) *site {
	t.Helper()
	return newSiteWith(t, f, name, dev, peer, listen, nil, nil)
}

// newSiteWith is newSite with own credentials (nil: a good certificate
// from f) and a change to the engine's Config (nil: none).
func newSiteWith(t testing.TB, f *certtest.Factory, name string, dev netif.Device, peer PeerConfig, listen bool,
	cr *trust.Credentials, mod func(*Config)) *site {
	t.Helper()
	if cr == nil {
		cr = creds(f, name)
	}
	log := testutil.Logger(t)
	hs := handshake.New(name, cr, []handshake.PeerPolicy{{Name: peer.Name, AllowedIPs: peer.AllowedIPs}}, log, nil)
	s := &site{name: name, dev: dev}
	if listen {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.ln = ln
	}
	cfg := Config{Name: name, Device: dev, Auth: hs, Listener: s.ln, Peers: []PeerConfig{peer}, Log: log}
	if mod != nil {
		mod(&cfg)
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.eng = eng
	eng.Start()
	t.Cleanup(func() { eng.Close() })
	return s
}

// pair starts a listening engine "office-a" and a dialing "office-b".
func pair(t testing.TB, devA, devB netif.Device) (a, b *site) {
	t.Helper()
	return pairKeepalive(t, devA, devB, time.Second)
}

// pairKeepalive is pair with keepalive ka on both sides.
func pairKeepalive(t testing.TB, devA, devB netif.Device, ka time.Duration) (a, b *site) {
	t.Helper()
	f := certtest.New(t, time.Now())
	a = newSite(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}, Keepalive: ka}, true)
	b = newSite(t, f, "office-b", devB, PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}, Keepalive: ka}, false)
	waitConnected(t, a, "office-b")
	waitConnected(t, b, "office-a")
	return a, b
}

func waitConnected(t testing.TB, s *site, peer string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, s.name+": peer "+peer+" connected", func() bool {
		p := s.eng.peers.get(peer)
		return p != nil && p.current() != nil
	})
}

func recv(t *testing.T, d *netiftest.Device) []byte {
	t.Helper()
	select {
	case b := <-d.Written():
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no packet arrived within 10s")
		return nil
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestPacketsCrossBothWays(t *testing.T) {
	testutil.CheckLeaks(t)
	devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
	pair(t, devA, devB)
	tests := []struct {
		name     string
		from, to *netiftest.Device
		pkt      []byte
	}{
		{"IPv4 UDP from LAN A reaches LAN B", devA, devB, packet.UDP(ap("10.1.0.10:5000"), ap("10.2.0.10:6000"), []byte("hello"))},
		{"IPv4 UDP from LAN B reaches LAN A", devB, devA, packet.UDP(ap("10.2.0.10:6000"), ap("10.1.0.10:5000"), []byte("world"))},
		{"a tunnel address answers", devB, devA, packet.ICMPEcho(netip.MustParseAddr("100.64.0.2"), netip.MustParseAddr("100.64.0.1"), 1, 1, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.from.Inject(tc.pkt)
			got := recv(t, tc.to)
			if !bytes.Equal(got[netif.VirtioHdrLen:], tc.pkt) {
				t.Fatalf("packet changed in transit:\n got %x\nwant %x", got[netif.VirtioHdrLen:], tc.pkt)
			}
		})
	}
}

// TestOneFlowKeepsItsOrder: packets of one flow, small and large mixed and
// injected as fast as the reader takes them, arrive in the order sent
// (small packets of a flow that sends large ones stay in the bulk queue).
func TestOneFlowKeepsItsOrder(t *testing.T) {
	testutil.CheckLeaks(t)
	devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
	a, _ := pair(t, devA, devB)
	const n = 3000
	go func() {
		for i := range n {
			payload := make([]byte, 4, 1400)
			binary.BigEndian.PutUint32(payload, uint32(i))
			if i%3 == 0 {
				payload = payload[:1400]
			}
			devA.Inject(packet.UDP(ap("10.1.0.10:7"), ap("10.2.0.10:7"), payload))
		}
	}()
	const udpPayload = netif.VirtioHdrLen + 20 + 8
	for want := range n {
		got := recv(t, devB)
		if i := binary.BigEndian.Uint32(got[udpPayload:]); int(i) != want {
			t.Fatalf("packet %d arrived where %d was due (dropped copies: %d; drops at the sender: %v)",
				i, want, devB.WrittenDropped(), a.eng.Status().Peers[0].Drops)
		}
	}
}

func TestGSOSuperPacketCrossesWhole(t *testing.T) {
	testutil.CheckLeaks(t)
	devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
	pair(t, devA, devB)
	super := packet.TCPSuper(ap("10.1.0.10:40000"), ap("10.2.0.10:5201"), 1, 1448, bytes.Repeat([]byte{7}, 20*1448))
	devA.InjectRaw(super)
	got := recv(t, devB)
	if len(got) != len(super) || !bytes.Equal(got[netif.VirtioHdrLen:], super[netif.VirtioHdrLen:]) {
		t.Fatalf("super-packet of %d bytes arrived as %d bytes or changed", len(super), len(got))
	}
	if h, _ := packet.ParseVirtioHdr(got); h.GSOType != packet.GSOTCPv4 || h.GSOSize != 1448 {
		t.Fatalf("virtio header lost: %+v", h)
	}
}

func TestDropsAreCounted(t *testing.T) {
	testutil.CheckLeaks(t)
	devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
	a, b := pair(t, devA, devB)

	// From B, a source outside B's allowed IPs at A: dropped at A.
	devB.Inject(packet.UDP(ap("10.9.9.9:1"), ap("10.1.0.10:2"), []byte("spoof")))
	// From A, a destination no peer routes: dropped at A.
	devA.Inject(packet.UDP(ap("10.1.0.10:1"), ap("192.0.2.1:2"), []byte("nowhere")))
	// Then a good packet, so we know the bad ones were processed.
	good := packet.UDP(ap("10.2.0.10:1"), ap("10.1.0.10:2"), []byte("ok"))
	devB.Inject(good)
	if got := recv(t, devA); !bytes.Equal(got[netif.VirtioHdrLen:], good) {
		t.Fatalf("unexpected packet %x", got)
	}
	testutil.Eventually(t, 10*time.Second, "one no_route drop counted", func() bool { return a.eng.Status().NoRouteDrops == 1 })
	ps := a.eng.Status().Peers[0]
	if ps.Drops["source_not_allowed"] != 1 {
		t.Fatalf("spoofed source not counted: %+v", ps.Drops)
	}
	if bs := b.eng.Status().Peers[0]; bs.TxPackets != 2 {
		t.Fatalf("B sent %d packets, want 2", bs.TxPackets)
	}
}

func TestRestartedPeerReplacesItsConnection(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	devA := netiftest.New("a", 1500, netif.AllOffloads)
	a := newSite(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}}, true)
	peerB := PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}}
	// The first office-b process dials once; after that it is "gone" (its
	// later dials fail) while its old connection is still open at A, as
	// after a crash.
	dials := 0
	b1 := newSiteWith(t, f, "office-b", netiftest.New("b", 1500, netif.AllOffloads), peerB, false, nil, func(c *Config) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials++; dials > 1 {
				return nil, errors.New("process gone")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	})
	waitConnected(t, a, "office-b")
	first := a.eng.peers.get("office-b").current()

	// The restarted office-b (new boot id) replaces the first connection.
	devB2 := netiftest.New("b2", 1500, netif.AllOffloads)
	newSite(t, f, "office-b", devB2, peerB, false)
	testutil.Eventually(t, 10*time.Second, "office-a moved to the restarted peer's connection", func() bool {
		c := a.eng.peers.get("office-b").current()
		return c != nil && c != first
	})
	pkt := packet.UDP(ap("10.1.0.10:1"), ap("10.2.0.10:2"), []byte("to the new one"))
	devA.Inject(pkt)
	if got := recv(t, devB2); !bytes.Equal(got[netif.VirtioHdrLen:], pkt) {
		t.Fatal("packet did not reach the new process")
	}
	testutil.Eventually(t, 10*time.Second, "the first office-b lost its connection", func() bool { return b1.eng.peers.get("office-a").current() == nil })
}

// TestCloseLeavesNoGoroutine closes both engines of a live tunnel; the
// leak check then finds none of their goroutines and sockets left.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	testutil.CheckLeaks(t)
	devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
	f := certtest.New(t, time.Now())
	a := newSite(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}}, true)
	b := newSite(t, f, "office-b", devB, PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}}, false)
	waitConnected(t, a, "office-b")
	b.eng.Close()
	a.eng.Close()
}

func TestRefusedPeerNeverConnects(t *testing.T) {
	testutil.CheckLeaks(t)
	f, other := certtest.New(t, time.Now()), certtest.New(t, time.Now())
	a := newSite(t, f, "office-a", netiftest.New("a", 1500, 0), PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true)
	newSite(t, other, "office-b", netiftest.New("b", 1500, 0), PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA}}, false)
	// b's dialer retries with backoff; a refuses each time.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if a.eng.peers.get("office-b").current() != nil {
			t.Fatal("a peer from another CA was connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOneHostCannotHoldEveryHandshakeSlot(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	a := newSite(t, f, "office-a", netiftest.New("a", 1500, 0), PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB}}, true)
	// Connections that never speak hold their handshake slot until the TLS timeout.
	for range maxHandshakesPerIP {
		c, err := net.Dial("tcp", a.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	testutil.Eventually(t, 10*time.Second, "every handshake slot of the address taken", func() bool { return a.eng.admit.inProgress() == maxHandshakesPerIP })
	// One more from the same address is closed at once.
	c, err := net.Dial("tcp", a.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection over the per-address limit was not closed: %v", err)
	}
}

func TestNodesDialingEachOtherSettleOnOneConnection(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, ln net.Listener, peer PeerConfig) *Engine {
		log := testutil.Logger(t)
		hs := handshake.New(name, creds(f, name), []handshake.PeerPolicy{{Name: peer.Name, AllowedIPs: peer.AllowedIPs}}, log, nil)
		e, err := New(Config{Name: name, Device: netiftest.New(name, 1500, 0), Auth: hs, Listener: ln, Peers: []PeerConfig{peer}, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	a := mk("office-a", lnA, PeerConfig{Name: "office-b", Endpoint: lnB.Addr().String(), AllowedIPs: []netip.Prefix{tunB}})
	b := mk("office-b", lnB, PeerConfig{Name: "office-a", Endpoint: lnA.Addr().String(), AllowedIPs: []netip.Prefix{tunA}})
	a.Start()
	b.Start()
	// Both dial at once, so both connections come up; the rule keeps the
	// one dialed by office-a, whose name sorts first. (Until the second
	// handshake completes, the nodes may briefly share the other one.)
	settled := func() bool {
		ca, cb := a.peers.get("office-b").current(), b.peers.get("office-a").current()
		return ca != nil && cb != nil && a.Status().Peers[0].State == "connected" && b.Status().Peers[0].State == "connected" &&
			ca.st.Conn.LocalAddr().String() == cb.st.Conn.RemoteAddr().String() && ca.sess.Dialed
	}
	testutil.Eventually(t, 10*time.Second, "both nodes on the connection office-a dialed", settled)
	first := a.peers.get("office-b").current()
	time.Sleep(500 * time.Millisecond) // nothing may replace it afterwards
	if !settled() || a.peers.get("office-b").current() != first {
		t.Fatalf("the nodes did not keep one connection: a %+v, b %+v", a.Status().Peers[0], b.Status().Peers[0])
	}
}
