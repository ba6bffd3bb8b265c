package lab

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces with ip netns")
	}
}

// listed returns the namespaces in "ip netns list" that start with prefix.
func listed(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := ip("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix+"-") {
			names = append(names, f[0])
		}
	}
	return names
}

func TestBuildThenCloseLeavesNoNamespaceBehind(t *testing.T) {
	needRoot(t)
	topo, err := Build(nextPrefix(), Options{LANs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topo.Close() })
	if got := listed(t, topo.Prefix); len(got) != 4 {
		t.Errorf("after Build, namespaces %v; want lanA, gwA, gwB, lanB", got)
	}
	if err := topo.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := listed(t, topo.Prefix); len(got) != 0 {
		t.Errorf("after Close, namespaces %v are left", got)
	}
	if err := topo.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := topo.Run(topo.GwA, "true"); err != ErrClosed {
		t.Errorf("Run after Close: %v; want ErrClosed", err)
	}
}

func TestBuildFailureRemovesOnlyWhatItMade(t *testing.T) {
	needRoot(t)
	prefix := nextPrefix()
	if _, err := ip("netns", "add", prefix+"-gwB"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("netns", "del", prefix+"-gwB") })

	if topo, err := Build(prefix, Options{}); err == nil {
		topo.Close()
		t.Fatal("Build succeeded although gwB's namespace existed already")
	}
	if got := listed(t, prefix); len(got) != 1 || got[0] != prefix+"-gwB" {
		t.Errorf("after the failed Build, namespaces %v; want only the one made before it", got)
	}
}

func TestGatewaysPingEachOtherOverTheUnderlay(t *testing.T) {
	topo := New(t, Options{})
	for _, c := range []struct{ from, to string }{{topo.GwA, UnderlayB}, {topo.GwB, UnderlayA}} {
		if n, out, err := topo.Ping(c.from, c.to, 3); err != nil || n != 3 {
			t.Errorf("ping %s from %s: %d of 3 replies, %v\n%s", c.to, c.from, n, err, out)
		}
	}
}

func TestLANHostsPingTheirGatewayButNotTheOtherSite(t *testing.T) {
	topo := New(t, Options{LANs: true})
	reach := []struct{ from, to string }{
		{topo.LanA, GatewayA4}, {topo.LanA, GatewayA6},
		{topo.LanB, GatewayB4}, {topo.LanB, GatewayB6},
		{topo.LanA, UnderlayA}, // via the default route
	}
	for _, c := range reach {
		if n, out, err := topo.Ping(c.from, c.to, 2); err != nil || n != 2 {
			t.Errorf("ping %s from %s: %d of 2 replies, %v\n%s", c.to, c.from, n, err, out)
		}
	}
	// Without a tunnel no gateway has a route to the other site.
	if n, out, _ := topo.Ping(topo.LanA, HostB4, 1); n != 0 {
		t.Errorf("lanA reached %s without a tunnel:\n%s", HostB4, out)
	}
}

func TestForwardingIsOnInTheGatewaysOnly(t *testing.T) {
	topo := New(t, Options{LANs: true})
	for _, l := range topo.links() {
		want := "0"
		if l.ns == topo.GwA || l.ns == topo.GwB {
			want = "1"
		}
		for _, key := range []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding", "ipv6/conf/" + l.dev + "/forwarding"} {
			out, err := topo.Run(l.ns, "cat", "/proc/sys/net/"+key)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("%s: net/%s = %s; want %s", l.ns, key, got, want)
			}
		}
	}
}

func TestSetLinkDownStopsTrafficAndUpRestoresIt(t *testing.T) {
	topo := New(t, Options{})
	if err := topo.SetLink(topo.GwA, UnderlayDev, false); err != nil {
		t.Fatal(err)
	}
	if n, out, _ := topo.Ping(topo.GwA, UnderlayB, 1); n != 0 {
		t.Fatalf("ping got through a link that is down:\n%s", out)
	}
	if err := topo.SetLink(topo.GwA, UnderlayDev, true); err != nil {
		t.Fatal(err)
	}
	back := WaitFor(10*time.Second, 100*time.Millisecond, func() bool {
		n, _, _ := topo.Ping(topo.GwA, UnderlayB, 1)
		return n == 1
	})
	if !back {
		t.Errorf("no ping across the underlay within 10 s of setting the link up\n%s", topo.Dump(topo.GwA))
	}
}

func TestCloseKillsEveryProcessInTheNamespaces(t *testing.T) {
	topo := New(t, Options{})
	p, err := topo.Start(topo.GwB, filepath.Join(t.TempDir(), "sleep.log"), "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	// A process Start does not know of: a shell's background child.
	if _, err := topo.Run(topo.GwA, "sh", "-c", "sleep 300 >/dev/null 2>&1 &"); err != nil {
		t.Fatal(err)
	}
	orphans, err := nsPids(topo.GwA)
	if err != nil || len(orphans) != 1 {
		t.Fatalf("processes in gwA before Close: %v, %v; want the background sleep", orphans, err)
	}
	if err := topo.Close(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Errorf("the started sleep (pid %d) still runs after Close", p.Pid())
	}
	if !WaitFor(10*time.Second, 20*time.Millisecond, func() bool { return !alive(orphans[0]) }) {
		t.Errorf("the background sleep (pid %d) still runs 10 s after Close", orphans[0])
	}
}

// alive reports whether pid runs (exists and is no zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestStopEndsAProcessThatIgnoresSIGTERM(t *testing.T) {
	topo := New(t, Options{})
	log := filepath.Join(t.TempDir(), "stubborn.log")
	p, err := topo.Start(topo.GwA, log, "sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`)
	if err != nil {
		t.Fatal(err)
	}
	ready := WaitFor(10*time.Second, 20*time.Millisecond, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "ready")
	})
	if !ready {
		t.Fatal("the shell did not start within 10 s")
	}
	if err := p.Stop(100 * time.Millisecond); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !p.Exited() {
		t.Error("process still there after Stop")
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal after Stop succeeded")
	}
}

func TestStopReportsAFailedExit(t *testing.T) {
	topo := New(t, Options{})
	p, err := topo.Start(topo.GwA, filepath.Join(t.TempDir(), "false.log"), "false")
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if err := p.Stop(time.Second); err == nil {
		t.Error("Stop of a process that exited with status 1 returned nil")
	}
}

func TestRunReportsOutputOfAFailingCommand(t *testing.T) {
	topo := New(t, Options{})
	_, err := topo.Run(topo.GwA, "sh", "-c", "echo something broke; exit 3")
	if err == nil || !strings.Contains(err.Error(), "something broke") {
		t.Errorf("Run error %v; want it to include the command's output", err)
	}
}

func TestDumpShowsAddressesAndRoutes(t *testing.T) {
	topo := New(t, Options{LANs: true})
	dump := topo.Dump(topo.LanA)
	for _, want := range []string{HostA4 + "/24", HostA6 + "/64", "default via " + GatewayA4, "default via " + GatewayA6} {
		if !strings.Contains(dump, want) {
			t.Errorf("Dump of lanA lacks %q:\n%s", want, dump)
		}
	}
}

func TestHelpersRefuseWhatIsNotTheirs(t *testing.T) {
	topo := &Topology{Prefix: "tvx", GwA: "tvx-gwA", GwB: "tvx-gwB"}
	if _, err := topo.Run("default", "true"); err == nil {
		t.Error("Run in a namespace outside the topology succeeded")
	}
	if _, err := topo.Start("", "/dev/null", "true"); err == nil {
		t.Error("Start in the root namespace succeeded")
	}
	if _, _, err := topo.Ping(topo.GwA, "192.0.2.1", 1); err == nil {
		t.Error("Ping of an address outside the plan succeeded")
	}
	if _, err := Build("bad/prefix", Options{}); err == nil {
		t.Error("Build accepted a prefix with a slash")
	}
}

func TestWaitForStopsAtTheDeadline(t *testing.T) {
	calls := 0
	ok := WaitFor(50*time.Millisecond, 10*time.Millisecond, func() bool { calls++; return false })
	if ok || calls < 2 {
		t.Errorf("WaitFor on a false condition: %v after %d calls; want false after at least 2", ok, calls)
	}
	if !WaitFor(time.Hour, time.Hour, func() bool { return true }) {
		t.Error("WaitFor on a true condition returned false")
	}
}

func TestFirstPacketsRoutedThroughBothGatewaysArrive(t *testing.T) {
	topo := New(t, Options{LANs: true})
	// The underlay has no IPv6 addresses: IPv6 goes via the link-local ones.
	routes := []struct{ ns, prefix, via string }{
		{topo.GwA, "10.2.0.0/24", UnderlayB}, {topo.GwA, "fd02::/64", linkLocal(t, topo.GwB)},
		{topo.GwB, "10.1.0.0/24", UnderlayA}, {topo.GwB, "fd01::/64", linkLocal(t, topo.GwA)},
	}
	for _, r := range routes {
		if _, err := topo.Run(r.ns, "ip", "route", "add", r.prefix, "via", r.via, "dev", UnderlayDev); err != nil {
			t.Fatal(err)
		}
	}
	for _, to := range []string{HostB4, HostB6} {
		if n, out, err := topo.Ping(topo.LanA, to, 1); err != nil || n != 1 {
			t.Errorf("first ping from lanA to %s: %d of 1 replies, %v\n%s", to, n, err, out)
		}
	}
}

// linkLocal returns the IPv6 link-local address of the underlay in ns.
func linkLocal(t *testing.T, ns string) string {
	t.Helper()
	out, err := ip("-n", ns, "-6", "-o", "addr", "show", "dev", UnderlayDev, "scope", "link")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "fe80::") {
			return strings.TrimSuffix(f, "/64")
		}
	}
	t.Fatalf("no link-local address on %s in %s: %s", UnderlayDev, ns, out)
	return ""
}
