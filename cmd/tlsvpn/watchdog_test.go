package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// engines starts office-a (listening, device a) and office-b (dialing,
// device b) over real TLS on loopback and waits until they are connected.
// The devices' held writes are released before the engines close.
func engines(t *testing.T, a, b *netiftest.Device) (ea, eb *tunnel.Engine) {
	f := certtest.New(t, time.Now())
	start := func(name, peer string, dev *netiftest.Device, allowed string, ln net.Listener, endpoint string) *tunnel.Engine {
		pc := tunnel.PeerConfig{Name: peer, Endpoint: endpoint, AllowedIPs: []netip.Prefix{netip.MustParsePrefix(allowed)}, Keepalive: time.Minute}
		hs := handshake.New(name, f.Credentials(f.Leaf(certtest.LeafOpts{Names: []string{name}})),
			[]handshake.PeerPolicy{{Name: peer, AllowedIPs: pc.AllowedIPs}}, testutil.Logger(t), nil)
		e, err := tunnel.New(tunnel.Config{Name: name, Device: dev, Auth: hs, Listener: ln, Peers: []tunnel.PeerConfig{pc}, Log: testutil.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		e.Start()
		t.Cleanup(func() { dev.ReleaseWrites(); e.Close() })
		return e
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ea = start("office-a", "office-b", a, "10.2.0.0/24", ln, "")
	eb = start("office-b", "office-a", b, "10.1.0.0/24", nil, ln.Addr().String())
	for _, e := range []*tunnel.Engine{ea, eb} {
		testutil.Eventually(t, 10*time.Second, "connected", func() bool { up, _ := e.Connected(); return len(up) == 1 })
	}
	return ea, eb
}

// TestAStalledReaderStopsTheWatchdog: two engines over real TLS, the
// watchdog of office-b on a real notify socket; office-b's device stops
// taking packets, so its connection reader stalls, WATCHDOG=1 stops and
// the log names the reader; released, it comes back.
func TestAStalledReaderStopsTheWatchdog(t *testing.T) {
	sock := listenNotify(t)
	devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
	_, eb := engines(t, devA, devB)
	log, logs := testutil.CaptureLogs(t)
	w := &watchdog{log: log, stalled: eb.Stalled, alive: sock.n.Alive, within: 200 * time.Millisecond}

	// fed ticks once and reports whether WATCHDOG=1 went out.
	fed := func() bool {
		w.tick(time.Now())
		sock.n.Status("marker")
		m := sock.next()
		if m == "WATCHDOG=1" {
			sock.next() // the marker
			return true
		}
		return false
	}
	testutil.Eventually(t, 10*time.Second, "WATCHDOG=1 while office-b's loops are live", fed)

	devB.HoldWrites()
	devA.Inject(packet.UDP(netip.MustParseAddrPort("10.1.0.10:5000"), netip.MustParseAddrPort("10.2.0.10:6000"), []byte("stuck")))
	testutil.Eventually(t, 10*time.Second, "WATCHDOG=1 withheld once office-b's reader is stuck", func() bool { return !fed() })
	for range 3 {
		if fed() {
			t.Fatal("WATCHDOG=1 sent while the reader is still stuck")
		}
	}
	if !strings.Contains(logs.String(), "packet loop stalled") || !strings.Contains(logs.String(), "reader of peer office-a") {
		t.Errorf("the log does not name the stalled reader:\n%s", logs.String())
	}

	devB.ReleaseWrites()
	testutil.Eventually(t, 10*time.Second, "WATCHDOG=1 again once the reader moves", fed)
	if !devB.WaitWritten(1, 10*time.Second) {
		t.Error("the held packet never reached office-b's device")
	}
}
