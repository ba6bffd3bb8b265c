package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// recoveryOptions make dead peers noticed in about 3 s (3 missed keepalives).
var recoveryOptions = Options{Keepalive: "1s"}

// Bounds of the recovery tests: generous multiples of what the design
// promises (dead after 3 keepalives, redial backoff at most 10 s).
const (
	recoverWithin = 30 * time.Second
	outage        = 5 * time.Second  // longer than 3 keepalives of 1 s
	noticeWithin  = 20 * time.Second // for a node to see its peer is gone
)

// waitLANPing waits until host A reaches host B through the tunnel and
// returns how long that took.
func waitLANPing(t *testing.T, n *Net) time.Duration {
	t.Helper()
	return n.WaitPing(t, n.Lab.LanA, lab.HostB4, recoverWithin)
}

func TestNodeStartedBeforeItsPeerConnectsWhenThePeerComes(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, recoveryOptions)
	n.B.Start(t) // the dialer, with nobody listening yet
	var last tunnel.PeerStatus
	start := time.Now()
	// For 3 s (and until it has said why) office-b must not be connected.
	lab.WaitFor(10*time.Second, 100*time.Millisecond, func() bool {
		p, ok := n.B.Peer(t)
		if ok {
			last = p
		}
		if ok && p.State == "connected" {
			t.Fatalf("office-b connected to office-a, which is not running")
		}
		return time.Since(start) >= 3*time.Second && last.LastError != ""
	})
	if last.State == "" || last.LastError == "" {
		t.Fatalf("office-b without its peer: state %q, last error %q; want a state and the error", last.State, last.LastError)
	}
	t.Logf("office-b alone: state %q, last error %q", last.State, last.LastError)
	n.A.Start(t)
	start = time.Now()
	n.A.WaitConnected(t, recoverWithin)
	n.B.WaitConnected(t, recoverWithin)
	t.Logf("connected %v after office-a started", time.Since(start).Round(time.Millisecond))
	waitLANPing(t, n)
}

func TestTrafficResumesAfterARestart(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, recoveryOptions)
	n.StartBoth(t)
	waitLANPing(t, n)
	for _, nd := range []*Node{n.A, n.B} {
		nd.Stop(t, syscall.SIGTERM)
		start := time.Now()
		nd.Start(t)
		waitLANPing(t, n)
		t.Logf("restart of %s: first LAN-to-LAN ping reply %v after the start", nd.Name, time.Since(start).Round(time.Millisecond))
	}
}

func TestTrafficResumesAfterAFrozenNode(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, recoveryOptions)
	n.StartBoth(t)
	waitLANPing(t, n)
	for _, c := range []struct{ frozen, other *Node }{{n.A, n.B}, {n.B, n.A}} {
		freeze(t, c.frozen, c.other)
		start := time.Now()
		waitLANPing(t, n)
		t.Logf("%s frozen: first LAN-to-LAN ping reply %v after SIGCONT", c.frozen.Name, time.Since(start).Round(time.Millisecond))
	}
}

// freeze stops nd with SIGSTOP for at least outage and until other no
// longer shows it connected, then continues it.
func freeze(t *testing.T, nd, other *Node) {
	t.Helper()
	if err := nd.Proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Proc.Signal(syscall.SIGCONT) }) // also when the test fails below
	noticed := waitPeerGone(t, other, outage)
	if err := nd.Proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s frozen: %s saw it gone after %v", nd.Name, other.Name, noticed.Round(time.Millisecond))
}

// waitPeerGone waits at least minimum and until nd's peer is not
// connected, and returns when the latter happened (measured from the call).
func waitPeerGone(t *testing.T, nd *Node, minimum time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var noticed time.Duration
	var last tunnel.PeerStatus
	lab.WaitFor(noticeWithin, 100*time.Millisecond, func() bool {
		if noticed == 0 {
			if p, ok := nd.Peer(t); ok {
				last = p
				if p.State != "connected" {
					noticed = time.Since(start)
				}
			}
		}
		return noticed > 0 && time.Since(start) >= minimum
	})
	if noticed == 0 {
		t.Fatalf("%s still shows its peer %q after %v without traffic (keepalive 1s)", nd.Name, last.State, noticeWithin)
	}
	return noticed
}

func TestTrafficResumesAfterTheUnderlayWasDown(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, recoveryOptions)
	n.StartBoth(t)
	waitLANPing(t, n)
	setUnderlay(t, n, false)
	t.Cleanup(func() { n.Lab.SetLink(n.Lab.GwA, lab.UnderlayDev, true) })
	noticed := waitPeerGone(t, n.A, outage)
	setUnderlay(t, n, true)
	start := time.Now()
	waitLANPing(t, n)
	t.Logf("underlay down: office-a saw office-b gone after %v; first LAN-to-LAN ping reply %v after link up",
		noticed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func setUnderlay(t *testing.T, n *Net, up bool) {
	t.Helper()
	if err := n.Lab.SetLink(n.Lab.GwA, lab.UnderlayDev, up); err != nil {
		t.Fatal(err)
	}
}

func TestNodesDialingEachOtherKeepOneConnection(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{BothDial: true, Keepalive: "1s"})
	n.StartBoth(t)
	var conns []string
	var history []int // connection counts seen, for the failure message
	settled := 0
	lab.WaitFor(20*time.Second, 200*time.Millisecond, func() bool {
		conns = underlayConns(t, n)
		history = append(history, len(conns))
		if len(conns) == 1 {
			settled++
		} else {
			settled = 0
		}
		return settled >= 5 // one connection for a second
	})
	if settled < 5 {
		a, _ := n.A.Peer(t)
		b, _ := n.B.Peer(t)
		t.Fatalf("established connections between the gateways on port %s: %d; want exactly 1:\n%s\n"+
			"counts seen every 200ms: %v\noffice-a: %q (%s), office-b: %q (%s)",
			listenPort, len(conns), strings.Join(conns, "\n"), history, a.State, a.LastError, b.State, b.LastError)
	}
	t.Logf("the one connection: %s", conns[0])
	for _, nd := range []*Node{n.A, n.B} {
		if p, ok := nd.Peer(t); !ok || p.State != "connected" {
			t.Errorf("%s: peer state %q; want connected", nd.Name, p.State)
		}
	}
	waitLANPing(t, n)
}

// underlayConns lists the established TCP connections in gwA between the
// two gateways' underlay addresses with port 4433 on either end.
func underlayConns(t *testing.T, n *Net) []string {
	t.Helper()
	out, err := n.Lab.Run(n.Lab.GwA, "ss", "-Htn", "state", "established")
	if err != nil {
		t.Fatalf("ss in gwA: %v", err)
	}
	var conns []string
	a, b := lab.UnderlayA+":", lab.UnderlayB+":"
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		local, peer := f[len(f)-2], f[len(f)-1]
		ends := strings.HasPrefix(local, a) && strings.HasPrefix(peer, b)
		port := strings.HasSuffix(local, ":"+listenPort) || strings.HasSuffix(peer, ":"+listenPort)
		if ends && port {
			conns = append(conns, local+" "+peer)
		}
	}
	return conns
}
