package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// The node as a user runs it: the package `make deb` builds, installed in
// a booted Debian 12 container (internal/lab) whose PID 1 is a real
// systemd, its instance tlsvpn@office-b dialing office-a, which runs in the
// lab's namespace gwA. A veth joins gwA and the container on the second
// underlay; the container reaches office-a's listener through gwA.
//
//	container  host0 198.18.1.2/24 ── ct0 198.18.1.1/24  gwA  ul0 198.18.0.1:4433 (office-a)
//	tlsvpn@office-b, tunnel 100.64.0.2                         tunnel 100.64.0.1
const (
	ctUnit     = "tlsvpn@office-b.service"
	ctConfig   = "/etc/tlsvpn/office-b.toml"
	ctTunnel4  = "100.64.0.2" // office-b's tunnel address (configB)
	ctPeerName = "office-a"
)

// The veth between gwA and the container.
var (
	ctVethGw        = netip.MustParsePrefix("198.18.1.1/24")
	ctVethContainer = netip.MustParsePrefix("198.18.1.2/24")
)

// ctWait bounds the waits for a unit's state; each is logged with the
// real figure.
const ctWait = 60 * time.Second

// ctRig is what the subtests of TestPackageUnderARealSystemd share, in the
// order they run: one container, one package (and a second build for the
// upgrade), office-a in gwA.
type ctRig struct {
	top     *testing.T // the parent test: what outlives a subtest is registered on it
	n       *Net
	c       *lab.Container
	config  string         // office-b's configuration, as installed
	upgrade chan debResult // the second build, made while the first subtests run
}

// debResult is the outcome of a background make deb.
type debResult struct {
	path string
	err  error
}

func TestPackageUnderARealSystemd(t *testing.T) {
	testutil.CheckLeaks(t)
	start := time.Now()
	r := &ctRig{top: t, n: NewNet(t, Options{})}
	dir := t.TempDir()
	deb, err := lab.BuildDeb("..", filepath.Join(dir, "first"), "")
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	r.buildUpgrade(filepath.Join(dir, "second"), debVersion(t, deb)+"+upgrade")
	r.c = lab.Boot(t, lab.BootOptions{})
	booted := time.Since(start) - built
	r.wire(t)
	if err := r.c.Install(deb); err != nil {
		t.Fatal(err)
	}
	r.installConfig(t)
	t.Logf("set up in %v: make deb %v, boot %v", time.Since(start).Round(time.Millisecond),
		built.Round(time.Millisecond), booted.Round(time.Millisecond))

	steps := []struct {
		name  string
		run   func(*testing.T)
		gates bool // the later steps need this one
	}{
		{"the package installs the unit and systemd loads an instance of it", r.installed, true},
		{"systemd-analyze security inside scores the instance at most 2.0", r.security, false},
		{"with its required peer down the unit stays activating and its status names the peer", r.requiredPeerDown, true},
		{"once the required peer is up the unit becomes active", r.requiredPeerUp, true},
		{"systemctl restart returns after READY, with the required peer connected", r.restartWaitsForReady, true},
		{"the journal carries the node's fields", r.journalFields, false},
		{"systemctl reload keeps the tunnel and loses no ping", r.reloadKeepsTunnel, false},
		{"a broken config fails systemctl reload visibly and the one in force stays", r.reloadBroken, false},
		{"a hung node is restarted by the watchdog", r.watchdogRestartsHungNode, true},
		{"an upgrade leaves the running instance alone", r.upgradeKeepsInstance, false},
		{"systemctl stop leaves no interface and no route", r.stopCleansUp, false},
		{"removing the package stops its instances", r.removeStopsInstances, false},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) && s.gates {
			t.Fatalf("the later steps need %q", s.name)
		}
	}
	t.Logf("container test: %v in all", time.Since(start).Round(time.Millisecond))
}

// buildUpgrade builds the package again as version, in the background, for
// upgradeKeepsInstance; the test's cleanup waits for the build.
func (r *ctRig) buildUpgrade(dir, version string) {
	r.upgrade = make(chan debResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		path, err := lab.BuildDeb("..", dir, version)
		r.upgrade <- debResult{path, err}
	}()
	r.top.Cleanup(func() { <-done })
}

// debVersion is the Version field of the package file deb.
func debVersion(t *testing.T, deb string) string {
	t.Helper()
	out, err := runHost("dpkg-deb", "--field", deb, "Version")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// wire joins the container to gwA and routes office-a's listening address
// through gwA.
func (r *ctRig) wire(t *testing.T) {
	t.Helper()
	if _, err := r.c.JoinVeth(r.n.Lab, lab.Veth{NS: r.n.Lab.GwA, Addr: ctVethGw, ContainerAddr: ctVethContainer}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.RunNet("ip", "route", "add", lab.UnderlayA+"/32", "via", ctVethGw.Addr().String()); err != nil {
		t.Fatal(err)
	}
}

// installConfig puts office-b's certificate, key, CA and CRL into
// /etc/tlsvpn/pki and its configuration, with office-a required, into
// ctConfig, as an admin would.
func (r *ctRig) installConfig(t *testing.T) {
	t.Helper()
	for _, f := range []string{"ca.pem", "crl.pem", "office-b.pem", "office-b.key"} {
		if err := r.c.CopyIn(filepath.Join(r.n.Dir, "pki", f), "/etc/tlsvpn/pki/"+f); err != nil {
			t.Fatal(err)
		}
	}
	r.config = configB(Options{}) + "required    = true\n"
	r.writeConfig(t, r.config)
}

func (r *ctRig) writeConfig(t *testing.T, body string) {
	t.Helper()
	if err := r.c.WriteFile(ctConfig, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
}

// systemctl runs systemctl in the container, failing the test on error.
func (r *ctRig) systemctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := r.c.Run("systemctl", args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.journalTail(20))
	}
	return out
}

// props returns the unit's properties names as systemctl show has them.
func (r *ctRig) props(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := r.systemctl(t, "show", ctUnit, "--property="+strings.Join(names, ","))
	m := make(map[string]string, len(names))
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// mainPID is the unit's MainPID (0 when it has none).
func (r *ctRig) mainPID(t *testing.T) int {
	t.Helper()
	pid, err := strconv.Atoi(r.props(t, "MainPID")["MainPID"])
	if err != nil {
		t.Fatalf("MainPID: %v", err)
	}
	return pid
}

// waitState polls the unit until its ActiveState is state, for at most
// ctWait, and returns how long that took.
func (r *ctRig) waitState(t *testing.T, state string) time.Duration {
	t.Helper()
	start := time.Now()
	var p map[string]string
	if !lab.WaitFor(ctWait, 100*time.Millisecond, func() bool {
		p = r.props(t, "ActiveState", "SubState", "StatusText")
		return p["ActiveState"] == state
	}) {
		t.Fatalf("%s is %s/%s (status %q), not %s, %v after asking:\n%s", ctUnit, p["ActiveState"], p["SubState"],
			p["StatusText"], state, ctWait, r.journalTail(30))
	}
	return time.Since(start)
}

// journalTail is the end of the unit's journal, systemd's lines and the
// node's, for a failure message.
func (r *ctRig) journalTail(lines int) string {
	out, err := r.c.Journal(ctUnit)
	if err != nil {
		return err.Error()
	}
	return "journal of " + ctUnit + ":\n" + tail(out, lines)
}

// status asks the node in the container with tlsvpn status --json.
func (r *ctRig) status(t *testing.T) status.Node {
	t.Helper()
	out, err := r.c.Run("tlsvpn", "status", "-c", ctConfig, "--json")
	if err != nil {
		t.Fatalf("tlsvpn status in the container: %v", err)
	}
	var s status.Node
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("tlsvpn status --json in the container: %v\n%s", err, out)
	}
	return s
}

// connectedPeer returns the status of office-a as the container's node
// sees it, failing the test unless it is connected.
func (r *ctRig) connectedPeer(t *testing.T) tunnel.PeerStatus {
	t.Helper()
	p, ok := peerNamed(r.status(t), ctPeerName)
	if !ok || p.State != "connected" {
		t.Fatalf("the container's node lists %s as %+v; want it connected", ctPeerName, p)
	}
	return p
}

// pingTunnel pings the container's tunnel address from gwA, through the
// tunnel, count times, and fails the test unless every reply came back.
func (r *ctRig) pingTunnel(t *testing.T, count int) {
	t.Helper()
	if got := r.n.Ping(t, r.n.Lab.GwA, ctTunnel4, count); got != count {
		t.Errorf("ping %s from gwA through the tunnel: %d of %d replies", ctTunnel4, got, count)
	}
}

// links and routes list the container's interfaces and its IPv4 and IPv6
// routes.
func (r *ctRig) links(t *testing.T) string { return r.ip(t, "-o", "link", "show") }

func (r *ctRig) routes(t *testing.T) string {
	return r.ip(t, "-4", "route", "show", "table", "all") + r.ip(t, "-6", "route", "show", "table", "all")
}

func (r *ctRig) ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := r.c.Run("ip", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hasLink reports whether the container has the interface dev.
func hasLink(links, dev string) bool {
	for _, l := range strings.Split(links, "\n") {
		// 7: tlsvpn0: <POINTOPOINT,...
		if f := strings.Fields(l); len(f) > 1 && strings.TrimSuffix(f[1], ":") == dev {
			return true
		}
	}
	return false
}

// runHost runs a program on the host and returns its standard output.
func runHost(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

// tlsvpnProcesses lists the pids of the processes called tlsvpn in the
// container.
func (r *ctRig) tlsvpnProcesses(t *testing.T) []string {
	t.Helper()
	out, err := r.c.Run("sh", "-c", `for d in /proc/[0-9]*; do [ "$(cat $d/comm 2>/dev/null)" = tlsvpn ] && echo ${d#/proc/}; done; true`)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(out)
}
