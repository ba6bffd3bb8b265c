package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// bin is the tlsvpn binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	if mode := os.Getenv("TLSVPN_E2E_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	dir, err := os.MkdirTemp("", "tlsvpn-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "tlsvpn")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tlsvpn/tlsvpn/cmd/tlsvpn").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build tlsvpn: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testutil.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// offloadModes are the values of [interface] offload; the traffic tests
// run each.
var offloadModes = []string{config.OffloadAuto, config.OffloadSplit, config.OffloadOff}

// Options shape the two nodes of a Net.
type Options struct {
	Offload   string // [interface] offload; "" = default
	Keepalive string // [[peer]] keepalive on both nodes; "" = default
	BothDial  bool   // office-a also dials office-b (office-b listens too)
}

// Net is the test topology (docs/design.md) with a PKI and a config per gateway;
// nodes start with Node.Start.
type Net struct {
	Lab  *lab.Topology
	Dir  string // pki/, configs and logs
	A, B *Node
}

// Node is one tlsvpn node on a gateway namespace.
type Node struct {
	Name   string
	NS     string
	Config string // path of its config file
	Log    string // path of its log file of the latest start
	Proc   *lab.Proc
	starts int
	net    *Net
}

const (
	listenPort = "4433"
	tunDev     = "tlsvpn0"
)

// NewNet builds the topology, a CA with certificates for office-a and
// office-b, and both configs.
func NewNet(t *testing.T, o Options) *Net {
	t.Helper()
	n := &Net{Lab: lab.New(t, lab.Options{LANs: true}), Dir: t.TempDir()}
	n.A = &Node{Name: "office-a", NS: n.Lab.GwA, net: n}
	n.B = &Node{Name: "office-b", NS: n.Lab.GwB, net: n}
	pki := filepath.Join(n.Dir, "pki")
	n.MustRun(t, "", "pki", "init", "--dir", pki, "--name", "e2e CA")
	for _, name := range []string{"office-a", "office-b"} {
		n.MustRun(t, "", "pki", "issue", name, "--dir", pki)
	}
	n.A.Config = n.WriteConfig(t, "office-a", configA(o))
	n.B.Config = n.WriteConfig(t, "office-b", configB(o))
	t.Cleanup(func() {
		if t.Failed() {
			for _, nd := range []*Node{n.A, n.B} {
				if nd.Log != "" {
					b, _ := os.ReadFile(nd.Log)
					t.Logf("log of %s:\n%s", nd.Name, tail(string(b), 60))
				}
			}
			t.Logf("network:\n%s", n.Lab.DumpAll())
		}
	})
	return n
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// WriteConfig writes a config called name.toml into the Net's folder.
func (n *Net) WriteConfig(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(n.Dir, name+".toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func peerKeys(o Options) string {
	if o.Keepalive == "" {
		return ""
	}
	return fmt.Sprintf("keepalive   = %q\n", o.Keepalive)
}

func iface(addrs, offload string) string {
	s := fmt.Sprintf("[interface]\nname    = %q\naddress = %s\n", tunDev, addrs)
	if offload != "" {
		s += fmt.Sprintf("offload = %q\n", offload)
	}
	return s
}

func tlsKeys(name string) string {
	return fmt.Sprintf("[tls]\nca   = \"pki/ca.pem\"\ncert = \"pki/%s.pem\"\nkey  = \"pki/%s.key\"\ncrl  = \"pki/crl.pem\"\n", name, name)
}

// configA is office-a on gwA: it listens (and with BothDial also dials).
func configA(o Options) string {
	ep := ""
	if o.BothDial {
		ep = fmt.Sprintf("endpoint    = \"%s:%s\"\n", lab.UnderlayB, listenPort)
	}
	return "name = \"office-a\"\n\n" + tlsKeys("office-a") + "\n" +
		iface(`["100.64.0.1/24", "fd64::1/64"]`, o.Offload) + "\n" +
		fmt.Sprintf("[listen]\naddress = \"%s:%s\"\n\n", lab.UnderlayA, listenPort) +
		"[[peer]]\nname        = \"office-b\"\n" + ep +
		"allowed_ips = [\"100.64.0.2/32\", \"fd64::2/128\", \"10.2.0.0/24\", \"fd02::/64\"]\n" + peerKeys(o)
}

// configB is office-b on gwB: it dials office-a (and with BothDial also listens).
func configB(o Options) string {
	listen := ""
	if o.BothDial {
		listen = fmt.Sprintf("[listen]\naddress = \"%s:%s\"\n\n", lab.UnderlayB, listenPort)
	}
	return "name = \"office-b\"\n\n" + tlsKeys("office-b") + "\n" +
		iface(`["100.64.0.2/24", "fd64::2/64"]`, o.Offload) + "\n" + listen +
		"[[peer]]\nname        = \"office-a\"\n" +
		fmt.Sprintf("endpoint    = \"%s:%s\"\n", lab.UnderlayA, listenPort) +
		"allowed_ips = [\"100.64.0.1/32\", \"fd64::1/128\", \"10.1.0.0/24\", \"fd01::/64\"]\n" + peerKeys(o)
}

// Run runs the tlsvpn binary with args in namespace ns ("" = here).
func (n *Net) Run(ns string, args ...string) (string, error) {
	if ns == "" {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	return n.Lab.Run(ns, bin, args...)
}

// MustRun is Run failing the test on error.
func (n *Net) MustRun(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := n.Run(ns, args...)
	if err != nil {
		t.Fatalf("tlsvpn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Start runs `tlsvpn up` for the node, logging to a new file; the test's
// cleanup stops it.
func (nd *Node) Start(t *testing.T) {
	t.Helper()
	nd.starts++
	nd.Log = filepath.Join(nd.net.Dir, fmt.Sprintf("%s.%d.log", nd.Name, nd.starts))
	p, err := nd.net.Lab.Start(nd.NS, nd.Log, bin, "up", "-c", nd.Config, "--log-level", "debug")
	if err != nil {
		t.Fatalf("start %s: %v", nd.Name, err)
	}
	nd.Proc = p
	t.Cleanup(func() { p.Stop(10 * time.Second) })
}

// Stop ends the node with sig and waits for it to exit.
func (nd *Node) Stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := nd.Proc.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", nd.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- nd.Proc.Wait() }()
	select {
	case err := <-done:
		if err != nil && sig != syscall.SIGKILL {
			t.Fatalf("%s exited with %v after %v", nd.Name, err, sig)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not exit within 15s of %v", nd.Name, sig)
	}
}

// LogText is the node's log of its latest start.
func (nd *Node) LogText() string {
	b, _ := os.ReadFile(nd.Log)
	return string(b)
}

// StatusVia asks nd's running node with `tlsvpn status -c config --json`;
// config may be any file naming the node's control socket. The error says
// that no node answered, or wraps the JSON error of an answer that is not
// the status object.
func (nd *Node) StatusVia(config string) (status.Node, error) {
	var s status.Node
	out, err := nd.net.Lab.Run(nd.NS, bin, "status", "-c", config, "--json")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("status --json of %s: %w\n%s", nd.Name, err, out)
	}
	return s, nil
}

// Status asks the running node; ok is false when none answers. An answer
// that is not the status object ends the test.
func (nd *Node) Status(t *testing.T) (s status.Node, ok bool) {
	t.Helper()
	s, err := nd.StatusVia(nd.Config)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) {
		t.Fatal(err)
	}
	return s, err == nil
}

// Peer is the status of the node's only peer; ok is false when the node
// does not answer or lists another number of peers.
func (nd *Node) Peer(t *testing.T) (tunnel.PeerStatus, bool) {
	t.Helper()
	s, ok := nd.Status(t)
	if !ok || len(s.Tunnel.Peers) != 1 {
		return tunnel.PeerStatus{}, false
	}
	return s.Tunnel.Peers[0], true
}

// WaitConnected polls until the node's peer is connected and returns how
// long that took.
func (nd *Node) WaitConnected(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if !lab.WaitFor(within, 50*time.Millisecond, func() bool {
		p, ok := nd.Peer(t)
		return ok && p.State == "connected"
	}) {
		p, _ := nd.Peer(t)
		t.Fatalf("%s: peer not connected within %v (state %q, last error %q)", nd.Name, within, p.State, p.LastError)
	}
	return time.Since(start)
}

// StartBoth starts office-a then office-b and waits until both are connected.
func (n *Net) StartBoth(t *testing.T) {
	t.Helper()
	n.A.Start(t)
	n.B.Start(t)
	n.A.WaitConnected(t, 20*time.Second)
	n.B.WaitConnected(t, 20*time.Second)
}

// Ping pings to from namespace ns and returns the replies received.
func (n *Net) Ping(t *testing.T, ns, to string, count int) int {
	t.Helper()
	got, out, err := n.Lab.Ping(ns, to, count)
	if err != nil && got == 0 {
		t.Logf("ping %s from %s: %v\n%s", to, ns, err, out)
	}
	return got
}

// WaitPing polls with single pings until one gets through and returns how
// long that took.
func (n *Net) WaitPing(t *testing.T, ns, to string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if !lab.WaitFor(within, 10*time.Millisecond, func() bool {
		_, err := n.Lab.Run(ns, "ping", "-c", "1", "-W", "1", to)
		return err == nil
	}) {
		t.Fatalf("no ping reply from %s to %s within %v", ns, to, within)
	}
	return time.Since(start)
}

// Links lists the network interfaces of ns.
func (n *Net) Links(t *testing.T, ns string) string {
	out, err := n.Lab.Run(ns, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("ip link in %s: %v", ns, err)
	}
	return out
}

// Routes lists the IPv4 and IPv6 routes of ns.
func (n *Net) Routes(t *testing.T, ns string) string {
	v4, err := n.Lab.Run(ns, "ip", "route", "show")
	if err != nil {
		t.Fatal(err)
	}
	v6, err := n.Lab.Run(ns, "ip", "-6", "route", "show")
	if err != nil {
		t.Fatal(err)
	}
	return v4 + v6
}

func itoa(i int) string { return strconv.Itoa(i) }
