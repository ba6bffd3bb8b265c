package tunnel

import (
	"crypto/x509"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

// stream injects n numbered UDP packets into from, one every gap, and
// returns a func that waits until all n arrived at to (each exactly once)
// or reports what is missing.
func stream(t *testing.T, from, to *netiftest.Device, n int, gap time.Duration) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var seq [4]byte
		for i := range n {
			binary.BigEndian.PutUint32(seq[:], uint32(i))
			from.Inject(packet.UDP(ap("10.1.0.10:7"), ap("10.2.0.10:7"), seq[:]))
			time.Sleep(gap)
		}
	}()
	return func() {
		t.Helper()
		wg.Wait()
		seen := make([]bool, n)
		deadline := time.After(10 * time.Second)
		for got := 0; got < n; {
			select {
			case b := <-to.Written():
				i := binary.BigEndian.Uint32(b[len(b)-4:])
				if int(i) >= n || seen[i] {
					t.Fatalf("packet %d arrived twice or out of range", i)
				}
				seen[i] = true
				got++
			case <-deadline:
				missing := 0
				for _, s := range seen {
					if !s {
						missing++
					}
				}
				t.Fatalf("%d of %d packets lost", missing, n)
			}
		}
	}
}

func TestRotationLosesNothing(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, tc := range []struct {
		name    string
		rotator func(a, b *site) *Engine
	}{
		{"rotation started by the dialing side", func(a, b *site) *Engine { return b.eng }},
		{"rotation started by the listening side, which asks the dialer", func(a, b *site) *Engine { return a.eng }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devA, devB := netiftest.New("a", 1500, netif.AllOffloads), netiftest.New("b", 1500, netif.AllOffloads)
			a, b := pair(t, devA, devB)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("A: %+v\nB: %+v\nB written dropped: %d", a.eng.Status(), b.eng.Status(), devB.WrittenDropped())
				}
			})
			before := a.eng.peers.get("office-b").current()
			wait := stream(t, devA, devB, 2000, 100*time.Microsecond)
			time.Sleep(20 * time.Millisecond) // rotate in the middle of the stream
			tc.rotator(a, b).RotateAll("test")
			wait()
			testutil.Eventually(t, 10*time.Second, "office-a on a new connection", func() bool { c := a.eng.peers.get("office-b").current(); return c != nil && c != before })
			if ps := a.eng.Status().Peers[0]; ps.RotatedAt == nil {
				t.Fatalf("status does not show the rotation: %+v", ps)
			}
		})
	}
}

func TestConnectionsRotateAtMaximumAge(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	young := func(c *Config) { c.RotateAge = 300 * time.Millisecond }
	devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
	a := newSiteWith(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}, Keepalive: 100 * time.Millisecond}, true, nil, young)
	newSiteWith(t, f, "office-b", devB, PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}, Keepalive: 100 * time.Millisecond}, false, nil, young)
	waitConnected(t, a, "office-b")
	first := a.eng.peers.get("office-b").current()
	testutil.Eventually(t, 10*time.Second, "office-a on a new connection", func() bool { c := a.eng.peers.get("office-b").current(); return c != nil && c != first })
	stream(t, devA, devB, 100, 0)()
}

// TestConnectionsRotateAtTheRecordLimit: a connection that has carried
// RotateRecords records either way is replaced at once, not at the next
// keepalive tick (an hour away here), and nothing is lost. Packets go from
// A (listens) to B (dials): A's sending side and B's receiving side reach
// the limit.
func TestConnectionsRotateAtTheRecordLimit(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, tc := range []struct {
		name    string
		records uint64
		side    string // the engine whose limit is set
	}{
		{"sent records, by the listener (which asks the dialer)", 200, "a"},
		{"received records, by the dialer", 200, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := certtest.New(t, time.Now())
			limit := func(side string) func(*Config) {
				if side != tc.side {
					return nil
				}
				return func(c *Config) { c.RotateRecords = tc.records }
			}
			devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
			a := newSiteWith(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}, Keepalive: time.Hour}, true, nil, limit("a"))
			newSiteWith(t, f, "office-b", devB, PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}, Keepalive: time.Hour}, false, nil, limit("b"))
			waitConnected(t, a, "office-b")
			first := a.eng.peers.get("office-b").current()
			stream(t, devA, devB, 1000, 200*time.Microsecond)()
			testutil.Eventually(t, 10*time.Second, "office-a on a new connection", func() bool { c := a.eng.peers.get("office-b").current(); return c != nil && c != first })
		})
	}
}

func TestExpiredPeerIsClosedAtExpiry(t *testing.T) {
	testutil.CheckLeaks(t)
	f := certtest.New(t, time.Now())
	devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
	a := newSite(t, f, "office-a", devA, PeerConfig{Name: "office-b", AllowedIPs: []netip.Prefix{tunB, netB}}, true)
	expires := time.Now().Add(1500 * time.Millisecond)
	short := f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, NotAfter: expires,
		EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	cr := f.Credentials(short)
	newSiteWith(t, f, "office-b", devB, PeerConfig{Name: "office-a", Endpoint: a.ln.Addr().String(), AllowedIPs: []netip.Prefix{tunA, netA}}, false, cr, nil)
	waitConnected(t, a, "office-b")
	testutil.Eventually(t, 10*time.Second, "office-b's connection closed", func() bool { return a.eng.peers.get("office-b").current() == nil })
	late := time.Since(short.Cert.NotAfter) // x509 keeps whole seconds
	t.Logf("tunnel closed %v after the peer certificate expired", late.Round(time.Millisecond))
	if late < 0 {
		t.Fatalf("closed %v before expiry", -late)
	}
	// Redials are refused now: the peer stays disconnected.
	time.Sleep(300 * time.Millisecond)
	if a.eng.peers.get("office-b").current() != nil {
		t.Fatal("a peer with an expired certificate connected again")
	}
}
