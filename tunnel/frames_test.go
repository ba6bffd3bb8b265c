package tunnel

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

// Hosts on the bridged LANs of the TAP tests (locally administered).
var (
	hostA  = l2.MAC{0x02, 0, 0, 0, 0xa, 1}
	hostB  = l2.MAC{0x02, 0, 0, 0, 0xb, 1}
	hostC  = l2.MAC{0x02, 0, 0, 0, 0xc, 1}
	ipHost = func(s string) netip.Addr { return netip.MustParseAddr(s) }
)

// tapSite is an engine over a fake TAP device.
type tapSite struct {
	name string
	dev  *netiftest.Device
	eng  *Engine
	ln   net.Listener
	logs *testutil.Logs
}

// tapOpts shape one TAP site.
type tapOpts struct {
	listen bool   // accept on loopback
	fbp    bool   // forward_between_peers
	mode   string // "tun": give it a TUN device instead (mode mismatch)
}

// newTAPSite starts an engine called name over a new fake TAP device with
// the given peers.
func newTAPSite(t testing.TB, f *certtest.Factory, name string, peers []PeerConfig, o tapOpts) *tapSite {
	t.Helper()
	s := &tapSite{name: name, dev: netiftest.NewTAP(name, 1500)}
	var dev netif.Device = s.dev
	if o.mode == "tun" {
		dev = netiftest.New(name, 1500, 0)
	}
	log, logs := testutil.CaptureLogs(t)
	s.logs = logs
	var pols []handshake.PeerPolicy
	for _, p := range peers {
		pols = append(pols, handshake.PeerPolicy{Name: p.Name})
	}
	if o.listen {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.ln = ln
	}
	eng, err := New(Config{Name: name, Device: dev, Auth: handshake.New(name, creds(f, name), pols, log, nil),
		Listener: s.ln, Peers: peers, Log: log, ForwardBetweenPeers: o.fbp})
	if err != nil {
		t.Fatal(err)
	}
	s.eng = eng
	eng.Start()
	t.Cleanup(func() { eng.Close() })
	return s
}

// tapStar starts hub site-a (listening; forward_between_peers as fbp) and
// the spokes site-b and site-c dialing it, and waits until both are
// connected. With spokes 1 only site-b is made.
func tapStar(t testing.TB, fbp bool, spokes int) (hub *tapSite, sp []*tapSite) {
	t.Helper()
	f := certtest.New(t, time.Now())
	names := []string{"site-b", "site-c"}[:spokes]
	var peers []PeerConfig
	for _, n := range names {
		peers = append(peers, PeerConfig{Name: n, Keepalive: time.Second})
	}
	hub = newTAPSite(t, f, "site-a", peers, tapOpts{listen: true, fbp: fbp})
	for _, n := range names {
		s := newTAPSite(t, f, n, []PeerConfig{{Name: "site-a", Endpoint: hub.ln.Addr().String(), Keepalive: time.Second}}, tapOpts{})
		sp = append(sp, s)
	}
	for _, s := range sp {
		waitConnected(t, &site{name: hub.name, eng: hub.eng}, s.name)
		waitConnected(t, &site{name: s.name, eng: s.eng}, "site-a")
	}
	return hub, sp
}

// frame returns an Ethernet frame from src to dst carrying a UDP packet
// whose payload holds seq, so that tests can tell frames apart.
func frame(dst, src l2.MAC, seq uint32) []byte {
	payload := binary.BigEndian.AppendUint32(nil, seq)
	return netiftest.EthernetFrame(l2.Header{Dst: dst, Src: src, EtherType: netiftest.EtherTypeIPv4},
		packet.UDP(ap("10.9.0.1:9"), ap("10.9.0.2:9"), payload))
}

// next is the next frame the device wrote, or nil after 10 s.
func next(d *netiftest.Device, within time.Duration) []byte {
	select {
	case b := <-d.Written():
		return b
	case <-time.After(within):
		return nil
	}
}

// expectFrames fails unless the device writes exactly want, in order, and
// then the marker: so no frame arrived twice or out of place.
func expectFrames(t *testing.T, d *netiftest.Device, want ...[]byte) {
	t.Helper()
	for i, w := range want {
		got := next(d, 10*time.Second)
		if !bytes.Equal(got, w) {
			t.Fatalf("%s: frame %d is\n % x\nwant\n % x", d.Name(), i, got, w)
		}
	}
}

// marker sends a broadcast marker frame from src on from, and checks that
// it is the next frame each of to writes: whatever was due before it has
// arrived, and nothing else.
func marker(t *testing.T, from *netiftest.Device, src l2.MAC, seq uint32, to ...*netiftest.Device) {
	t.Helper()
	m := frame(l2.Broadcast, src, seq)
	from.Inject(m)
	for _, d := range to {
		expectFrames(t, d, m)
	}
}

func TestFramesCrossWholeAndTheirSourcesAreLearned(t *testing.T) {
	testutil.CheckLeaks(t)
	a, spokes := tapStar(t, false, 1)
	b := spokes[0]
	arp := netiftest.EthernetFrame(l2.Header{Dst: l2.Broadcast, Src: hostA, EtherType: netiftest.EtherTypeARP},
		netiftest.ARP(netiftest.ARPRequest, hostA, ipHost("10.9.0.1"), l2.MAC{}, ipHost("10.9.0.2")))
	reply := netiftest.EthernetFrame(l2.Header{Dst: hostA, Src: hostB, EtherType: netiftest.EtherTypeARP},
		netiftest.ARP(netiftest.ARPReply, hostB, ipHost("10.9.0.2"), hostA, ipHost("10.9.0.1")))
	tagged := netiftest.EthernetFrame(l2.Header{Dst: hostB, Src: hostA, Tagged: true, TCI: 42, EtherType: netiftest.EtherTypeIPv4},
		packet.UDP(ap("10.9.0.1:1"), ap("10.9.0.2:2"), make([]byte, 1500-28)))
	for _, tc := range []struct {
		name     string
		from, to *netiftest.Device
		frame    []byte
	}{
		{"a broadcast ARP request from site A reaches site B", a.dev, b.dev, arp},
		{"the unicast reply from site B reaches site A", b.dev, a.dev, reply},
		{"a VLAN-tagged frame of MTU + 18 bytes crosses whole", a.dev, b.dev, tagged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.from.Inject(tc.frame)
			expectFrames(t, tc.to, tc.frame)
		})
	}
	st := a.eng.Status()
	if got := st.Peers[0].MACs; !slices.Equal(got, []string{hostB.String()}) || st.LocalMACs != 1 {
		t.Errorf("site A learned %v behind site-b and %d locally, want [%s] and 1", got, st.LocalMACs, hostB)
	}
	if got := b.eng.Status().Peers[0].MACs; !slices.Equal(got, []string{hostA.String()}) {
		t.Errorf("site B learned %v behind site-a, want [%s]", got, hostA)
	}
	if p := st.Peers[0]; p.TxPackets != 2 || p.RxPackets != 1 {
		t.Errorf("site A counted %d frames sent, %d received; want 2 and 1", p.TxPackets, p.RxPackets)
	}
}

// TestForwarding: the table of docs/layer2.md, "Forwarding", at the hub of
// a star, with split horizon and with forward_between_peers.
func TestForwarding(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, fbp := range []bool{false, true} {
		name := "with split horizon"
		if fbp {
			name = "with forward_between_peers"
		}
		t.Run(name, func(t *testing.T) {
			a, sp := tapStar(t, fbp, 2)
			b, c := sp[0], sp[1]
			// Each site's host speaks once: every switch learns where it is.
			bcB := frame(l2.Broadcast, hostB, 1)
			b.dev.Inject(bcB)
			expectFrames(t, a.dev, bcB)
			if fbp {
				expectFrames(t, c.dev, bcB) // exactly once: the marker below comes next
			}
			marker(t, c.dev, hostC, 2, a.dev)
			if fbp {
				expectFrames(t, b.dev, frame(l2.Broadcast, hostC, 2))
			}
			marker(t, a.dev, hostA, 3, b.dev, c.dev)

			// Unicast from the hub's LAN to a MAC behind site-b: site-b only.
			toB := frame(hostB, hostA, 4)
			a.dev.Inject(toB)
			expectFrames(t, b.dev, toB)
			// Unknown unicast from the hub's LAN: every spoke.
			unknown := frame(l2.MAC{0x02, 9, 9, 9, 9, 9}, hostA, 5)
			a.dev.Inject(unknown)
			expectFrames(t, b.dev, unknown)
			expectFrames(t, c.dev, unknown)
			// Unicast from site-c to a MAC behind site-b: through the hub
			// with forward_between_peers, never to the hub's own LAN.
			cToB := frame(hostB, hostC, 6)
			c.dev.Inject(cToB)
			if fbp {
				expectFrames(t, b.dev, cToB)
			}
			marker(t, a.dev, hostA, 7, b.dev, c.dev)
			marker(t, b.dev, hostB, 8, a.dev) // site-c's unicast did not reach the hub's LAN
			if fbp {
				expectFrames(t, c.dev, frame(l2.Broadcast, hostB, 8))
			}
		})
	}
}

// rawTAPPeer connects to the engine at addr as the TAP peer name with a
// handshake of its own and no switch: it sends whatever frames the test
// gives it, as a modified or compromised peer could. What the engine
// sends it is read and discarded.
func rawTAPPeer(t *testing.T, f *certtest.Factory, name, addr string) (send func(frames ...[]byte)) {
	t.Helper()
	hs := handshake.New(name, creds(f, name), []handshake.PeerPolicy{{Name: "site-a"}}, testutil.Logger(t), nil)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	s, err := hs.Client(context.Background(), raw, "site-a", handshake.Params{Version: handshake.ProtocolVersion,
		BootID: "raw", MTU: 1500, Purpose: handshake.PurposeConnect, Mode: handshake.ModeTAP})
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, raw)
	return func(frames ...[]byte) {
		var b []byte
		for _, fr := range frames {
			b = wire.AppendFrame(b, wire.TypeFrame, fr)
		}
		if _, err := raw.Write(sealed(t, s.Stream, b, record.TypeApplicationData)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLearningRules: the drops of docs/layer2.md, "Learning", each counted
// with its reason at the peer that sent the frame and logged, the frames
// around them delivered, and a MAC's move logged.
func TestLearningRules(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	a := newTAPSite(t, f, "site-a", []PeerConfig{{Name: "site-b"}, {Name: "site-c"}}, tapOpts{listen: true})
	c := newTAPSite(t, f, "site-c", []PeerConfig{{Name: "site-a", Endpoint: a.ln.Addr().String()}}, tapOpts{})
	sendB := rawTAPPeer(t, f, "site-b", a.ln.Addr().String())
	waitConnected(t, &site{name: "site-a", eng: a.eng}, "site-c")
	waitConnected(t, &site{name: "site-a", eng: a.eng}, "site-b")

	marker(t, a.dev, hostA, 1, c.dev) // hostA lives on the hub's LAN
	learned := frame(l2.Broadcast, hostB, 2)
	sendB(learned) // hostB lives behind site-b
	expectFrames(t, a.dev, learned)
	sendB(
		frame(l2.Broadcast, hostA, 3),                          // claims a host of the hub's LAN
		frame(l2.Broadcast, l2.MAC{0x01, 0, 0x5e, 0, 0, 1}, 4), // a group source
		netiftest.EthernetFrame(l2.Header{Dst: l2.Broadcast, Src: hostB, EtherType: netiftest.EtherTypeIPv4},
			make([]byte, 1501)), // MTU + 15 bytes, untagged
		make([]byte, l2.HeaderLen-1), // shorter than a header
	)
	sendB(learned)                              // hostB is live behind site-b
	c.dev.Inject(frame(l2.Broadcast, hostB, 5)) // and appears behind site-c within the hold-down
	expectFrames(t, a.dev, learned)
	marker(t, c.dev, hostC, 6, a.dev)

	want := map[string]map[string]uint64{
		"site-b": {"mac_spoof": 1, "mac_invalid": 1, "malformed": 2},
		"site-c": {"mac_move": 1},
	}
	for _, p := range a.eng.Status().Peers {
		if !mapsEqual(p.Drops, want[p.Name]) {
			t.Errorf("drops of %s: %v, want %v", p.Name, p.Drops, want[p.Name])
		}
	}
	for _, line := range []string{
		`msg="dropping packets" peer=site-b reason=mac_spoof count=1`,
		`msg="dropping packets" peer=site-b reason=mac_invalid count=1`,
		`msg="dropping packets" peer=site-c reason=mac_move count=1`,
	} {
		if !strings.Contains(a.logs.String(), line) {
			t.Errorf("no log line %s", line)
		}
	}

	// After a second of silence on site-b, hostB may move to site-c; the
	// hub logs the move.
	time.Sleep(l2.HoldDown + 100*time.Millisecond)
	marker(t, c.dev, hostB, 7, a.dev)
	line := `msg="MAC address moved" mac=` + hostB.String() + ` from=site-b to=site-c`
	if !strings.Contains(a.logs.String(), line) {
		t.Errorf("want a log line %s", line)
	}
	if got := a.eng.Status().Peers[1].MACs; !slices.Contains(got, hostB.String()) {
		t.Errorf("site-c's MACs %v lack the moved %s", got, hostB)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPeerMACLimit: a peer's first l2.PeerLimit source MACs are learned and
// delivered; the frames of the ones beyond are dropped as mac_limit, and
// the MACs already learned keep working.
func TestPeerMACLimit(t *testing.T) {
	testutil.CheckLeaks(t)
	a, sp := tapStar(t, false, 1)
	b := sp[0]
	const extra = 5
	for i := range l2.PeerLimit + extra {
		src := l2.MAC{0x02, 0xbb, 0, 0, byte(i >> 8), byte(i)}
		b.dev.Inject(frame(l2.Broadcast, src, uint32(i)))
	}
	for i := range l2.PeerLimit {
		if next(a.dev, 10*time.Second) == nil {
			t.Fatalf("%d of %d frames arrived", i, l2.PeerLimit)
		}
	}
	marker(t, b.dev, l2.MAC{0x02, 0xbb, 0, 0, 0, 0}, 1<<20, a.dev) // a learned MAC still passes
	st := a.eng.Status().Peers[0]
	if st.Drops["mac_limit"] != extra || len(st.MACs) != l2.PeerLimit || a.dev.WrittenCount() != l2.PeerLimit+1 {
		t.Errorf("drops %v, %d MACs learned, %d frames delivered; want mac_limit %d, %d and %d",
			st.Drops, len(st.MACs), a.dev.WrittenCount(), extra, l2.PeerLimit, l2.PeerLimit+1)
	}
}

// TestAPeerLostOrRemovedTakesItsMACs: the MACs behind a peer are forgotten
// when its connection goes (frames to them are flooded again) and when it
// is removed from the configuration.
func TestAPeerLostOrRemovedTakesItsMACs(t *testing.T) {
	testutil.CheckLeaks(t)
	a, sp := tapStar(t, false, 2)
	b, c := sp[0], sp[1]
	marker(t, b.dev, hostB, 1, a.dev)
	marker(t, c.dev, hostC, 2, a.dev)
	if st := a.eng.Status(); len(st.Peers[0].MACs) != 1 || len(st.Peers[1].MACs) != 1 {
		t.Fatalf("MACs not learned: %+v", st.Peers)
	}
	b.eng.Close()
	testutil.Eventually(t, 10*time.Second, "site-b's MACs forgotten", func() bool { return len(a.eng.Status().Peers[0].MACs) == 0 })
	a.eng.SetPeers([]PeerConfig{{Name: "site-b"}})
	if entries := a.eng.l2.sw.Entries(time.Now().UnixNano()); len(entries) != 0 {
		t.Errorf("after site-c was removed, the switch still holds %v", entries)
	}
}

// TestTUNAndTAPNodesRefuseEachOther: a TAP node and a TUN node never
// connect, and the dialing side's status says why, naming both modes.
func TestTUNAndTAPNodesRefuseEachOther(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	a := newTAPSite(t, f, "site-a", []PeerConfig{{Name: "site-b"}}, tapOpts{listen: true})
	b := newTAPSite(t, f, "site-b", []PeerConfig{{Name: "site-a", Endpoint: a.ln.Addr().String()}}, tapOpts{mode: "tun"})
	testutil.Eventually(t, 10*time.Second, "the TUN node's refusal in its status", func() bool {
		return strings.Contains(b.eng.Status().Peers[0].LastError, `mode mismatch: this node runs "tun", peer "tap"`)
	})
	// The TAP node logs its refusal too (its line may come a moment later).
	testutil.Eventually(t, 10*time.Second, "the TAP node's refusal in its log", func() bool {
		return strings.Contains(a.logs.String(), `msg="handshake refused" remote=`) &&
			strings.Contains(a.logs.String(), `mode mismatch: this node runs \"tap\", peer \"tun\"`)
	})
	if a.eng.peers.get("site-b").current() != nil || b.eng.peers.get("site-a").current() != nil {
		t.Error("a TUN and a TAP node connected")
	}
}

// TestDeviceDropsAreCounted: frames read from the device that the switch
// refuses are counted in status, not sent.
func TestDeviceDropsAreCounted(t *testing.T) {
	testutil.CheckLeaks(t)
	a, sp := tapStar(t, false, 1)
	a.dev.Inject(frame(l2.Broadcast, l2.MAC{}, 1)) // a zero source
	a.dev.Inject(make([]byte, l2.HeaderLen-1))     // a runt
	marker(t, a.dev, hostA, 2, sp[0].dev)
	if got := a.eng.Status().DeviceDrops; got["mac_invalid"] != 1 || got["malformed"] != 1 {
		t.Errorf("device drops %v, want mac_invalid 1 and malformed 1", got)
	}
}
