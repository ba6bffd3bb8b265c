package e2e

import (
	"context"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// remoteLANs are the prefixes each node routes into the tunnel: the other
// site's LAN.
var remoteLANs = map[string][]string{
	"office-a": {"10.2.0.0/24", "fd02::/64"},
	"office-b": {"10.1.0.0/24", "fd01::/64"},
}

func TestCleanStopLeavesNothingBehind(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			testutil.CheckLeaks(t)
			n := NewNet(t, Options{})
			n.StartBoth(t)
			n.WaitPing(t, n.Lab.LanA, lab.HostB4, 10*time.Second)
			for _, nd := range []*Node{n.A, n.B} {
				assertInstalled(t, n, nd)
				nd.Stop(t, sig) // fails unless it exits with status 0
				assertNothingLeft(t, n, nd)
			}
		})
	}
}

// assertInstalled checks that the running node has its interface and its
// routes, so that assertNothingLeft tests something.
func assertInstalled(t *testing.T, n *Net, nd *Node) {
	t.Helper()
	if links := n.Links(t, nd.NS); !strings.Contains(links, tunDev) {
		t.Fatalf("%s running, but no %s in %s:\n%s", nd.Name, tunDev, nd.NS, links)
	}
	routes := n.Routes(t, nd.NS)
	for _, p := range remoteLANs[nd.Name] {
		if !routeVia(routes, p, tunDev) {
			t.Fatalf("%s running, but no route to %s via %s:\n%s", nd.Name, p, tunDev, routes)
		}
	}
}

// routeVia reports whether routes (ip route output) has prefix on dev.
func routeVia(routes, prefix, dev string) bool {
	for _, line := range strings.Split(routes, "\n") {
		if strings.HasPrefix(line, prefix+" ") && strings.Contains(line, " dev "+dev+" ") {
			return true
		}
	}
	return false
}

// assertNothingLeft checks that the stopped (or never started) node left
// no interface, no route into the tunnel and no control socket.
func assertNothingLeft(t *testing.T, n *Net, nd *Node) {
	t.Helper()
	if links := n.Links(t, nd.NS); strings.Contains(links, tunDev) {
		t.Errorf("%s stopped, but %s is still in %s:\n%s", nd.Name, tunDev, nd.NS, links)
	}
	routes := n.Routes(t, nd.NS)
	for _, s := range append([]string{tunDev}, remoteLANs[nd.Name]...) {
		if strings.Contains(routes, s) {
			t.Errorf("%s stopped, but the routes of %s still mention %s:\n%s", nd.Name, nd.NS, s, routes)
		}
	}
	assertNoNode(t, n, nd)
}

// assertNoNode checks that `tlsvpn status` finds no node running nd's
// config: exit status 1 and "no running node for FILE".
func assertNoNode(t *testing.T, n *Net, nd *Node) {
	t.Helper()
	out, err := n.Run(nd.NS, "status", "-c", nd.Config)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "no running node for "+nd.Config) {
		t.Errorf("status of %s, not running: exit status %d, output %q; want 1 and \"no running node for %s\"",
			nd.Name, code, out, nd.Config)
	}
}

// upWithin bounds a start that must fail: if `up` runs on, it is killed.
const upWithin = 20 * time.Second

// upFails runs `tlsvpn up` for nd to completion, expecting it to fail,
// and returns its exit status and output.
func upFails(t *testing.T, n *Net, nd *Node) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), upWithin)
	defer cancel()
	out, err := n.Lab.RunContext(ctx, nd.NS, bin, "up", "-c", nd.Config)
	if ctx.Err() != nil {
		t.Fatalf("up of %s still running after %v; want it to fail at once:\n%s", nd.Name, upWithin, out)
	}
	return exitCode(err), out
}

func TestStartWithTheListenAddressTakenFailsAndLeavesNothing(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	startHelper(t, n, n.A.NS, "listen", lab.UnderlayA+":"+listenPort)
	code, out := upFails(t, n, n.A)
	t.Logf("up with %s:%s taken: exit status %d:\n%s", lab.UnderlayA, listenPort, code, out)
	if code != 1 || !strings.Contains(out, "listen.address") {
		t.Errorf("up with its listen address taken: exit status %d; want 1 and a message naming listen.address", code)
	}
	assertNothingLeft(t, n, n.A)
}

func TestStartRefusesAnInterfaceItDidNotCreate(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	if _, err := n.Lab.Run(n.A.NS, "ip", "tuntap", "add", "dev", tunDev, "mode", "tun"); err != nil {
		t.Fatal(err)
	}
	code, out := upFails(t, n, n.A)
	t.Logf("up with %s already there: exit status %d:\n%s", tunDev, code, out)
	if code != 1 || !strings.Contains(out, tunDev) {
		t.Errorf("up with %s already there: exit status %d; want 1 and a message naming %s", tunDev, code, tunDev)
	}
	addrs, err := n.Lab.Run(n.A.NS, "ip", "addr", "show", "dev", tunDev)
	if err != nil {
		t.Fatalf("the existing %s is gone after the refused start: %v", tunDev, err)
	}
	if strings.Contains(addrs, "100.64.0.1") || strings.Contains(addrs, "fd64::1") {
		t.Errorf("the refused start configured the existing %s:\n%s", tunDev, addrs)
	}
	if routes := n.Routes(t, n.A.NS); strings.Contains(routes, tunDev) {
		t.Errorf("the refused start left routes via %s:\n%s", tunDev, routes)
	}
	assertNoNode(t, n, n.A)
}

// cipherSuite matches the TLS 1.3 cipher suites by their Go names.
var cipherSuite = regexp.MustCompile(`TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)`)

func TestStatusShowsTheConnectedPeer(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	assertNoNode(t, n, n.B) // not started yet
	n.StartBoth(t)

	human := n.MustRun(t, n.A.NS, "status", "-c", n.A.Config)
	t.Logf("status of office-a:\n%s", human)
	if !regexp.MustCompile(`(?m)^office-b +connected +` + regexp.QuoteMeta(lab.UnderlayB) + `:\d+ `).MatchString(human) {
		t.Errorf("status of office-a has no line saying office-b is connected from %s", lab.UnderlayB)
	}
	for _, want := range []string{"TLS 1.3", "X25519MLKEM768"} {
		if !strings.Contains(human, want) {
			t.Errorf("status of office-a lacks %q", want)
		}
	}
	detail := n.MustRun(t, n.A.NS, "status", "-c", n.A.Config, "office-b")
	t.Logf("status of office-a's peer office-b:\n%s", detail)
	for _, want := range []string{"peer office-b: connected", "certificate serial ", "TLS 1.3", "X25519MLKEM768"} {
		if !strings.Contains(detail, want) {
			t.Errorf("status of office-b at office-a lacks %q", want)
		}
	}
	cipher := cipherSuite.FindString(human)
	if cipher == "" {
		t.Errorf("status of office-a names no TLS 1.3 cipher suite")
	}

	s, ok := n.A.Status(t)
	if !ok {
		t.Fatal("status --json of office-a: no answer")
	}
	if s.Version != 1 || len(s.Tunnel.Peers) != 1 {
		t.Fatalf("status --json: version %d with %d peers; want version 1 with 1 peer", s.Version, len(s.Tunnel.Peers))
	}
	type shown struct{ Name, State, TLS, Cipher, Group string }
	p := s.Tunnel.Peers[0]
	got := shown{p.Name, p.State, p.TLSVersion, p.Cipher, p.Group}
	if want := (shown{"office-b", "connected", "TLS 1.3", cipher, "X25519MLKEM768"}); got != want {
		t.Errorf("status --json peer: %+v; want %+v (as in the human status)", got, want)
	}

	n.B.Stop(t, syscall.SIGTERM)
	assertNoNode(t, n, n.B)
}
