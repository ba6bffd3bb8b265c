package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// The steps of TestPackageUnderARealSystemd, in the order it runs them.
// Each starts from the state the one before left.

func (r *ctRig) installed(t *testing.T) {
	out, err := r.c.Run("dpkg-query", "--show", "--showformat=${Status} ${Version}", "tlsvpn")
	if err != nil || !strings.HasPrefix(out, "install ok installed ") {
		t.Fatalf("dpkg-query says %q (%v); want tlsvpn installed", out, err)
	}
	version := strings.TrimPrefix(out, "install ok installed ")
	if got, _ := r.c.Run("tlsvpn", "version"); strings.TrimSpace(got) != "tlsvpn "+version {
		t.Errorf("tlsvpn version in the container says %q, want tlsvpn %s", got, version)
	}
	p := r.props(t, "LoadState", "ActiveState", "FragmentPath")
	// Debian 12 has /lib as a link to /usr/lib, and systemd looks in /lib first.
	fragment, _ := r.c.Run("readlink", "-f", p["FragmentPath"])
	if p["LoadState"] != "loaded" || strings.TrimSpace(fragment) != "/usr/lib/systemd/system/tlsvpn@.service" {
		t.Errorf("systemd has %s as %s from %q; want loaded from the package's unit", ctUnit, p["LoadState"], p["FragmentPath"])
	}
	if p["ActiveState"] != "inactive" {
		t.Errorf("%s is %s before anyone started it", ctUnit, p["ActiveState"])
	}
}

func (r *ctRig) security(t *testing.T) {
	out, err := r.c.Run("systemd-analyze", "security", "--no-pager", ctUnit)
	if err != nil {
		t.Fatal(err)
	}
	checkExposure(t, []byte(out))
}

// Where systemd shows that a node refused required = true (the build
// predates READY waiting for required peers).
const refusedRequired = "checks but cannot run yet"

func (r *ctRig) requiredPeerDown(t *testing.T) {
	start := time.Now()
	r.systemctl(t, "start", "--no-block", ctUnit)
	var p map[string]string
	lab.WaitFor(ctWait, 100*time.Millisecond, func() bool {
		p = r.props(t, "ActiveState", "SubState", "StatusText", "MainPID")
		return strings.Contains(p["StatusText"], ctPeerName) ||
			p["ActiveState"] == "failed" || p["ActiveState"] == "active" || p["SubState"] == "auto-restart"
	})
	if j, _ := r.c.Journal(ctUnit); strings.Contains(j, refusedRequired) {
		t.Fatalf("this build refuses required = true (cmd/tlsvpn/unbuilt.go): READY waiting for required peers "+
			"has not landed\n%s", r.journalTail(10))
	}
	if p["ActiveState"] != "activating" || p["SubState"] != "start" || !strings.Contains(p["StatusText"], ctPeerName) {
		t.Fatalf("with %s down, %s is %s/%s with status %q; want activating/start and a status naming %s\n%s",
			ctPeerName, ctUnit, p["ActiveState"], p["SubState"], p["StatusText"], ctPeerName, r.journalTail(30))
	}
	t.Logf("%v after systemctl start: %s/%s, status %q", time.Since(start).Round(time.Millisecond),
		p["ActiveState"], p["SubState"], p["StatusText"])

	// It stays so past a watchdog interval: waiting for a peer is no hang.
	hold := unitSpan(t, r.props(t, "WatchdogUSec")["WatchdogUSec"]) + time.Second
	var q map[string]string
	if lab.WaitFor(hold-time.Since(start), 250*time.Millisecond, func() bool {
		q = r.props(t, "ActiveState", "SubState", "MainPID", "NRestarts")
		return q["ActiveState"] != "activating" || q["SubState"] != "start" || q["MainPID"] != p["MainPID"] || q["NRestarts"] != "0"
	}) {
		t.Fatalf("%v after start, with %s still down, %s is %s/%s, pid %s (was %s), %s restarts; want it still activating\n%s",
			time.Since(start).Round(time.Millisecond), ctPeerName, ctUnit, q["ActiveState"], q["SubState"],
			q["MainPID"], p["MainPID"], q["NRestarts"], r.journalTail(30))
	}
}

// unitSpan parses a time span as systemctl show prints it ("10s",
// "1min 30s", "500ms").
func unitSpan(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.NewReplacer(" ", "", "min", "m").Replace(s))
	if err != nil {
		t.Fatalf("time span %q: %v", s, err)
	}
	return d
}

func (r *ctRig) requiredPeerUp(t *testing.T) {
	r.n.A.Start(r.top) // it runs to the end of the whole test
	took := r.waitState(t, "active")
	t.Logf("active %v after %s started; status %q", took.Round(time.Millisecond), ctPeerName,
		r.props(t, "StatusText")["StatusText"])
	r.connectedPeer(t)
	r.pingTunnel(t, 3)
}

func (r *ctRig) restartWaitsForReady(t *testing.T) {
	before := r.mainPID(t)
	start := time.Now()
	r.systemctl(t, "restart", ctUnit)
	took := time.Since(start)
	// No polling from here on: READY=1 promised all of it.
	p := r.connectedPeer(t)
	q := r.props(t, "ActiveState", "MainPID", "StatusText")
	if q["ActiveState"] != "active" || q["MainPID"] == strconv.Itoa(before) {
		t.Errorf("after systemctl restart returned, %s is %s with pid %s (was %d); want active in a new process",
			ctUnit, q["ActiveState"], q["MainPID"], before)
	}
	if !hasLink(r.links(t), tunDev) {
		t.Errorf("after systemctl restart returned, the container has no %s", tunDev)
	}
	t.Logf("systemctl restart returned after %v with %s connected from %s; status %q",
		took.Round(time.Millisecond), p.Name, p.Remote, q["StatusText"])
}

// journalEntry is one entry of journalctl --output=json, its fields that
// are text (journalctl writes binary ones as arrays of numbers).
type journalEntry map[string]string

// journal reads the unit's journal, systemd's entries and the node's.
func (r *ctRig) journal(t *testing.T) []journalEntry {
	t.Helper()
	out, err := r.c.Run("journalctl", "--no-pager", "--quiet", "--output=json", "--unit="+ctUnit)
	if err != nil {
		t.Fatal(err)
	}
	var entries []journalEntry
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("journalctl --output=json: %v\n%s", err, line)
		}
		e := journalEntry{}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				e[k] = s
			}
		}
		entries = append(entries, e)
	}
	return entries
}

func (r *ctRig) journalFields(t *testing.T) {
	entries := r.journal(t)
	endpoint := lab.UnderlayA + ":" + listenPort
	want := []struct {
		message string
		fields  journalEntry // "" means present, any value
	}{
		{"peer connected", journalEntry{"PEER": ctPeerName, "REMOTE": endpoint, "TLS": "", "CIPHER": "", "PRIORITY": "6"}},
		{"dial failed", journalEntry{"PEER": ctPeerName, "ENDPOINT": endpoint, "ERR": "", "RETRY_IN": ""}},
	}
	for _, w := range want {
		i := slices.IndexFunc(entries, func(e journalEntry) bool { return strings.HasPrefix(e["MESSAGE"], w.message+" ") })
		if i < 0 {
			t.Errorf("the journal of %s has no %q entry\n%s", ctUnit, w.message, r.journalTail(30))
			continue
		}
		e := entries[i]
		for k, v := range w.fields {
			if got, ok := e[k]; !ok || (v != "" && got != v) {
				t.Errorf("the journal's %q entry has %s=%q; want %q", w.message, k, got, v)
			}
		}
		if e["SYSLOG_IDENTIFIER"] != "tlsvpn" || e["_SYSTEMD_UNIT"] != ctUnit {
			t.Errorf("the journal's %q entry is from %q in %q; want tlsvpn in %s", w.message,
				e["SYSLOG_IDENTIFIER"], e["_SYSTEMD_UNIT"], ctUnit)
		}
		t.Logf("%s", userFields(e))
	}
}

// userFields is an entry's fields without the journal's own (those
// starting with _), sorted, for the log.
func userFields(e journalEntry) string {
	var kv []string
	for k, v := range e {
		if !strings.HasPrefix(k, "_") {
			kv = append(kv, k+"="+strconv.Quote(v))
		}
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// needReload skips the test when the installed tlsvpn has no reload
// command, which the unit's ExecReload= runs.
func (r *ctRig) needReload(t *testing.T) {
	t.Helper()
	if out, err := r.c.Run("tlsvpn", "reload", "--help"); err != nil {
		t.Skipf("tlsvpn reload (the control-socket reload ExecReload= runs, issue 11) is not in this build: %s", tail(out, 2))
	}
}

// withoutLanA is office-b's configuration without office-a's LAN: a
// reload that applies it removes the route to 10.1.0.0/24.
func (r *ctRig) withoutLanA(t *testing.T) string {
	t.Helper()
	cut := strings.Replace(r.config, `, "10.1.0.0/24"`, "", 1)
	if cut == r.config {
		t.Fatalf("office-b's configuration has no 10.1.0.0/24 to remove:\n%s", r.config)
	}
	return cut
}

const lanARoute = "10.1.0.0/24 dev " + tunDev

func (r *ctRig) reloadKeepsTunnel(t *testing.T) {
	r.needReload(t)
	pid, before := r.mainPID(t), r.connectedPeer(t)
	if !strings.Contains(r.routes(t), lanARoute) {
		t.Fatalf("before the reload the container lacks the route %s:\n%s", lanARoute, r.routes(t))
	}
	r.writeConfig(t, r.withoutLanA(t))
	ping := pingInBackground(r.n, r.n.Lab.GwA, ctTunnel4, 300) // 3 s
	if out, err := r.c.Run("systemctl", "reload", ctUnit); err != nil {
		t.Errorf("systemctl reload: %v\n%s\n%s", err, out, r.journalTail(20))
	}
	checkNoLoss(t, "ping across systemctl reload", stillRunning(t, ping, "systemctl reload"))
	if got := r.mainPID(t); got != pid {
		t.Errorf("the reload changed the main pid from %d to %d", pid, got)
	}
	if d := samePeer(before, r.connectedPeer(t)); d != "" {
		t.Errorf("the reload touched the tunnel to %s: %s", ctPeerName, d)
	}
	if routes := r.routes(t); strings.Contains(routes, lanARoute) {
		t.Errorf("the reload did not apply the new allowed_ips: the route %s is still there\n%s", lanARoute, routes)
	}
}

func (r *ctRig) reloadBroken(t *testing.T) {
	r.needReload(t)
	defer r.writeConfig(t, r.config)
	pid, routes := r.mainPID(t), r.routes(t)
	inForce, _ := r.c.Run("cat", ctConfig)
	broken := strings.Replace(inForce, `"fd01::/64"`, `"fd01::/129"`, 1)
	if broken == inForce {
		t.Fatalf("no fd01::/64 to break in:\n%s", inForce)
	}
	r.writeConfig(t, broken)
	out, err := r.c.Run("systemctl", "reload", ctUnit)
	if err == nil {
		t.Errorf("systemctl reload of a broken configuration succeeded:\n%s", out)
	}
	t.Logf("systemctl reload: %v", err)
	j, _ := r.c.Journal(ctUnit)
	if i := strings.Index(j, "fd01::/129"); i < 0 || !strings.Contains(j, "allowed_ips") {
		t.Errorf("the journal does not say what is wrong (allowed_ips, fd01::/129)\n%s", r.journalTail(20))
	} else {
		t.Logf("the journal says: %s", lineAt(j, i))
	}
	p := r.props(t, "ActiveState", "MainPID")
	if p["ActiveState"] != "active" || p["MainPID"] != strconv.Itoa(pid) {
		t.Errorf("after the failed reload %s is %s with pid %s; want still active with pid %d", ctUnit, p["ActiveState"], p["MainPID"], pid)
	}
	if s := r.status(t); s.ReloadErr == "" {
		t.Errorf("tlsvpn status shows no reload_error after the failed reload")
	}
	if got := r.routes(t); got != routes {
		t.Errorf("the failed reload changed the routes:\nbefore\n%s\nafter\n%s", routes, got)
	}
	r.pingTunnel(t, 3)

	// The good configuration again: the reload succeeds and brings back
	// what the first reload removed.
	r.writeConfig(t, r.config)
	if out, err := r.c.Run("systemctl", "reload", ctUnit); err != nil {
		t.Errorf("systemctl reload of the good configuration: %v\n%s", err, out)
	}
	if got := r.routes(t); !strings.Contains(got, lanARoute) {
		t.Errorf("after reloading the original configuration the route %s is missing:\n%s", lanARoute, got)
	}
}

func (r *ctRig) watchdogRestartsHungNode(t *testing.T) {
	p := r.props(t, "MainPID", "NRestarts", "WatchdogUSec", "RestartUSec", "TimeoutAbortUSec")
	promise := 2*unitSpan(t, p["WatchdogUSec"]) + unitSpan(t, p["RestartUSec"])
	restarts, _ := strconv.Atoi(p["NRestarts"])
	start := time.Now()
	r.systemctl(t, "kill", "--kill-who=main", "--signal=SIGSTOP", ctUnit)
	var q map[string]string
	if !lab.WaitFor(3*promise+ctWait, 100*time.Millisecond, func() bool {
		q = r.props(t, "ActiveState", "MainPID", "NRestarts")
		return q["ActiveState"] == "active" && q["MainPID"] != p["MainPID"] && q["MainPID"] != "0"
	}) {
		t.Fatalf("%s is %s with pid %s (stopped: %s), %v after SIGSTOP; want it restarted\n%s", ctUnit,
			q["ActiveState"], q["MainPID"], p["MainPID"], 3*promise+ctWait, r.journalTail(30))
	}
	took := time.Since(start)
	t.Logf("running again %v after SIGSTOP (promised within 2 x WatchdogSec + RestartSec = %v; TimeoutAbortSec %s)",
		took.Round(time.Millisecond), promise, p["TimeoutAbortUSec"])
	if got, _ := strconv.Atoi(q["NRestarts"]); got != restarts+1 {
		t.Errorf("NRestarts %d -> %d; want one restart", restarts, got)
	}
	if j, _ := r.c.Journal(ctUnit); !strings.Contains(j, "Watchdog timeout") {
		t.Errorf("systemd did not log a watchdog timeout for %s\n%s", ctUnit, r.journalTail(30))
	}
	if slices.Contains(r.tlsvpnProcesses(t), p["MainPID"]) {
		t.Errorf("the hung process %s is still there", p["MainPID"])
	}
	r.connectedPeer(t)
	r.pingTunnel(t, 3)
}

func (r *ctRig) upgradeKeepsInstance(t *testing.T) {
	res := <-r.upgrade // bounded by lab.BuildDeb's timeout
	if res.err != nil {
		t.Fatal(res.err)
	}
	version := debVersion(t, res.path)
	pid, before := r.mainPID(t), r.connectedPeer(t)
	if err := r.c.Install(res.path); err != nil {
		t.Fatal(err)
	}
	if out, _ := r.c.Run("dpkg-query", "--show", "--showformat=${Version}", "tlsvpn"); out != version {
		t.Errorf("after the upgrade dpkg has tlsvpn %q, want %s", out, version)
	}
	p := r.props(t, "ActiveState", "MainPID")
	if p["ActiveState"] != "active" || p["MainPID"] != strconv.Itoa(pid) {
		t.Errorf("after the upgrade %s is %s with pid %s; want active with pid %d as before", ctUnit, p["ActiveState"], p["MainPID"], pid)
	}
	if exe, _ := r.c.Run("readlink", fmt.Sprintf("/proc/%d/exe", pid)); strings.TrimSpace(exe) != "/usr/bin/tlsvpn (deleted)" {
		t.Errorf("the running node's binary is %q; want the replaced /usr/bin/tlsvpn (deleted)", exe)
	}
	if d := samePeer(before, r.connectedPeer(t)); d != "" {
		t.Errorf("the upgrade touched the tunnel to %s: %s", ctPeerName, d)
	}
	r.pingTunnel(t, 3)
}

// leftovers lists what of the node is left in the container: its
// interface, routes through it or to the tunnel's prefixes, processes.
func (r *ctRig) leftovers(t *testing.T) []string {
	t.Helper()
	var left []string
	if links := r.links(t); hasLink(links, tunDev) {
		left = append(left, "interface "+tunDev)
	}
	for _, l := range strings.Split(r.routes(t), "\n") {
		for _, s := range []string{tunDev, "100.64.0.", "fd64:", "10.1.0.", "fd01:"} {
			if strings.Contains(l, s) {
				left = append(left, "route "+l)
				break
			}
		}
	}
	for _, pid := range r.tlsvpnProcesses(t) {
		left = append(left, "process "+pid)
	}
	return left
}

func (r *ctRig) stopCleansUp(t *testing.T) {
	r.systemctl(t, "stop", ctUnit)
	p := r.props(t, "ActiveState", "Result", "MainPID")
	if p["ActiveState"] != "inactive" || p["Result"] != "success" || p["MainPID"] != "0" {
		t.Errorf("after systemctl stop %s is %s (result %s, pid %s); want inactive, success, no pid",
			ctUnit, p["ActiveState"], p["Result"], p["MainPID"])
	}
	if left := r.leftovers(t); len(left) > 0 {
		t.Errorf("systemctl stop left %s", strings.Join(left, "; "))
	}
}

func (r *ctRig) removeStopsInstances(t *testing.T) {
	r.systemctl(t, "start", ctUnit)
	r.connectedPeer(t)
	out, err := r.c.Run("dpkg", "--remove", "tlsvpn")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dpkg --remove tlsvpn:\n%s", out)
	p := r.props(t, "ActiveState", "LoadState")
	if p["ActiveState"] != "inactive" {
		t.Errorf("after the package's removal %s is %s (%s); want inactive", ctUnit, p["ActiveState"], p["LoadState"])
	}
	if left := r.leftovers(t); len(left) > 0 {
		t.Errorf("removing the package left %s", strings.Join(left, "; "))
	}
	if _, err := r.c.Run("test", "-e", "/usr/bin/tlsvpn"); err == nil {
		t.Error("the package's removal left /usr/bin/tlsvpn")
	}
	if _, err := r.c.Run("test", "-f", ctConfig); err != nil {
		t.Errorf("the package's removal took the admin's %s", ctConfig)
	}
}

// lineAt is the line of s that holds the byte at i.
func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}
