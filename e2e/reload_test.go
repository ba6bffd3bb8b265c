package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// reloadWait bounds every wait for the effect of a SIGHUP.
const reloadWait = 30 * time.Second

// Log messages of a reload (docs/logging.md).
const (
	logReloaded     = `msg=reloaded`
	logReloadFailed = `msg="reload failed; keeping the configuration in force"`
)

// reloadAndWait sends SIGHUP to the node and waits until its log has one more
// line containing msg than before.
func reloadAndWait(t *testing.T, nd *Node, msg string) {
	t.Helper()
	before := strings.Count(nd.LogText(), msg)
	if err := nd.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP to %s: %v", nd.Name, err)
	}
	if !lab.WaitFor(reloadWait, 20*time.Millisecond, func() bool {
		return strings.Count(nd.LogText(), msg) > before
	}) {
		t.Fatalf("%s did not log %s within %v of SIGHUP:\n%s", nd.Name, msg, reloadWait, tail(nd.LogText(), 20))
	}
}

// peerNamed returns the status of the peer called name.
func peerNamed(s status.Node, name string) (tunnel.PeerStatus, bool) {
	for _, p := range s.Tunnel.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return tunnel.PeerStatus{}, false
}

// floodPings is the count of the 10 ms ping run across a reload: 5 s.
const floodPings = 500

// waitTraffic waits until nd has received at least count more packets
// from its peer than it had at the start.
func waitTraffic(t *testing.T, nd *Node, count uint64) {
	t.Helper()
	p, _ := nd.Peer(t)
	start := p.RxPackets
	if !lab.WaitFor(10*time.Second, 10*time.Millisecond, func() bool {
		p, ok := nd.Peer(t)
		return ok && p.RxPackets >= start+count
	}) {
		t.Fatalf("%s: no traffic from its peer within 10s", nd.Name)
	}
}

// samePeer reports what differs between two statuses of one connected peer.
func samePeer(before, after tunnel.PeerStatus) string {
	switch {
	case after.State != "connected":
		return "state " + after.State
	case before.Remote != after.Remote:
		return fmt.Sprintf("remote %s -> %s", before.Remote, after.Remote)
	case before.Serial != after.Serial:
		return fmt.Sprintf("certificate serial %s -> %s", before.Serial, after.Serial)
	case before.Since == nil || after.Since == nil || !before.Since.Equal(*after.Since):
		return fmt.Sprintf("connected since %v -> %v", before.Since, after.Since)
	}
	return ""
}

func TestReloadWithAnUnchangedConfigLosesNoPacket(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	sa, _ := n.A.Status(t)
	pb, _ := n.B.Peer(t)

	ping := pingAcross(n, floodPings)
	waitTraffic(t, n.A, 20)
	reloadAndWait(t, n.A, logReloaded)
	checkNoLoss(t, "ping every 10 ms across the reload", stillRunning(t, ping, "the reload"))

	sa2, _ := n.A.Status(t)
	if d := samePeer(sa.Tunnel.Peers[0], sa2.Tunnel.Peers[0]); d != "" {
		t.Errorf("office-a's peer changed across the reload: %s", d)
	}
	if pb2, _ := n.B.Peer(t); samePeer(pb, pb2) != "" {
		t.Errorf("office-b's peer changed across the reload: %s", samePeer(pb, pb2))
	}
	if fmt.Sprint(sa.Routes) != fmt.Sprint(sa2.Routes) || sa2.ReloadErr != "" {
		t.Errorf("after the reload: routes %v (before %v), reload_error %q", sa2.Routes, sa.Routes, sa2.ReloadErr)
	}
}

func TestReloadWithABrokenConfigKeepsTheOneInForce(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	good := configA(Options{})
	// A copy of the good config names the same control socket, for asking
	// the node while its own file is broken.
	goodCopy := n.WriteConfig(t, "office-a-copy", good)
	n.WriteConfig(t, "office-a", strings.Replace(good, `name = "office-a"`, `name = "office-a`, 1))
	reloadAndWait(t, n.A, logReloadFailed)

	s, err := n.A.StatusVia(goodCopy)
	if err != nil || s.ReloadErr == "" {
		t.Errorf("status --json after the failed reload: reload_error %q, err %v; want the error", s.ReloadErr, err)
	}
	t.Logf("reload_error: %s", s.ReloadErr)
	if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 5); got != 5 {
		t.Errorf("ping from lanA to lanB after the failed reload: %d of 5 replies", got)
	}
	if p, ok := peerNamed(s, "office-b"); !ok || p.State != "connected" {
		t.Errorf("office-a's peer after the failed reload: %+v", p)
	}

	n.WriteConfig(t, "office-a", good)
	reloadAndWait(t, n.A, logReloaded)
	if s, err := n.A.StatusVia(goodCopy); err != nil || s.ReloadErr != "" {
		t.Errorf("after a good reload: reload_error %q, err %v; want it cleared", s.ReloadErr, err)
	}
}

func TestStatusOfTheBrokenConfigShowsTheReloadError(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.A.Start(t)
	waitStatusAnswers(t, n.A)
	n.WriteConfig(t, "office-a", strings.Replace(configA(Options{}), `name = "office-a"`, `name = "office-a`, 1))
	reloadAndWait(t, n.A, logReloadFailed)
	// What a user types after `systemctl reload` did not take.
	out, err := n.Lab.Run(n.A.NS, bin, "status", "-c", n.A.Config, "--json")
	var s status.Node
	if err == nil {
		err = json.Unmarshal([]byte(out), &s)
	}
	if err != nil || s.ReloadErr == "" {
		t.Errorf("status -c FILE --json with FILE broken: reload_error %q, err %v\n%s", s.ReloadErr, err, out)
	}
}

// placeholderPeer stands in for office-b in office-a's config while
// office-b is removed: a config needs at least one peer.
const placeholderPeer = "[[peer]]\nname        = \"office-c\"\nallowed_ips = [\"100.64.0.3/32\"]\n"

func TestReloadRemovingAPeerClosesItsTunnelAndAddingItBackReconnects(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	good := configA(Options{})
	i := strings.Index(good, "[[peer]]")
	n.WriteConfig(t, "office-a", good[:i]+placeholderPeer)

	start := time.Now()
	reloadAndWait(t, n.A, logReloaded)
	closed := lab.WaitFor(reloadWait, 50*time.Millisecond, func() bool {
		sa, okA := n.A.Status(t)
		_, hasB := peerNamed(sa, "office-b")
		pb, okB := n.B.Peer(t)
		return okA && !hasB && okB && pb.State != "connected"
	})
	sa, _ := n.A.Status(t)
	pb, _ := n.B.Peer(t)
	if !closed {
		t.Fatalf("within %v of removing office-b: office-a peers %+v, office-b's peer %+v", reloadWait, sa.Tunnel.Peers, pb)
	}
	t.Logf("tunnel closed %v after SIGHUP; office-a peers %v; office-b: %s (%s)",
		time.Since(start).Round(time.Millisecond), peerNames(sa), pb.State, pb.LastError)

	n.WriteConfig(t, "office-a", good)
	start = time.Now()
	reloadAndWait(t, n.A, logReloaded)
	n.B.WaitConnected(t, reloadWait)
	n.A.WaitConnected(t, reloadWait)
	t.Logf("reconnected %v after SIGHUP", time.Since(start).Round(time.Millisecond))
	if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 3); got != 3 {
		t.Errorf("ping from lanA to lanB after adding office-b back: %d of 3 replies", got)
	}
}

// peerNames lists the names of the peers in s.
func peerNames(s status.Node) []string {
	var names []string
	for _, p := range s.Tunnel.Peers {
		names = append(names, p.Name)
	}
	return names
}

// Log message of a reload that drops a live peer (docs/logging.md).
const logReverifyClosed = `msg="closing tunnel: peer no longer passes verification"`

// revokeB revokes office-b's certificate in the e2e PKI, which rewrites
// pki/crl.pem, the CRL office-a's config names.
func revokeB(t *testing.T, n *Net) {
	t.Helper()
	n.MustRun(t, "", "pki", "revoke", "office-b", "--dir", filepath.Join(n.Dir, "pki"))
}

// waitRevokedRefused waits until office-a has closed office-b's tunnel and
// refused office-b's redial as revoked.
func waitRevokedRefused(t *testing.T, n *Net, within time.Duration) {
	t.Helper()
	start := time.Now()
	if !lab.WaitFor(within, 50*time.Millisecond, func() bool { return strings.Contains(n.A.LogText(), logReverifyClosed) }) {
		t.Fatalf("office-a did not log %s within %v of the revocation:\n%s", logReverifyClosed, within, tail(n.A.LogText(), 20))
	}
	var refused refusal
	if !lab.WaitFor(within, 50*time.Millisecond, func() bool {
		for _, r := range refusalsIn(n.A.LogText()) {
			if r.reason == "revoked" && strings.HasPrefix(r.remote, lab.UnderlayB+":") {
				refused = r
				return true
			}
		}
		return false
	}) {
		t.Fatalf("office-a did not refuse office-b's redial as revoked within %v:\n%s", within, tail(n.A.LogText(), 20))
	}
	t.Logf("tunnel closed and redial refused within %v: %s", time.Since(start).Round(time.Millisecond), refused.line)
	if p, ok := n.B.Peer(t); !ok || p.State == "connected" {
		t.Errorf("office-b's peer after its revocation: %+v", p)
	}
}

func TestRevokingAPeerAndReloadingClosesItsTunnel(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	revokeB(t, n)
	reloadAndWait(t, n.A, logReloaded)
	waitRevokedRefused(t, n, reloadWait)
}

func TestRevokingAPeerClosesItsTunnelWithoutSIGHUP(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	revokeB(t, n) // docs/cli.md: a change of the CRL file on disk reloads it
	waitRevokedRefused(t, n, reloadWait)
}
