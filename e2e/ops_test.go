package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// Operations: tlsvpn reload, READY on required peers, the watchdog and
// the metrics endpoint, with real nodes in the lab's namespaces.

func TestReloadCommandWaitsAndSaysWhatHappened(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	if out, err := n.Run(n.A.NS, "reload", "-c", n.A.Config); exitCode(err) != 1 || !strings.Contains(out, "no running node for "+n.A.Config) {
		t.Errorf("reload with no node running: exit %d, %q; want 1 and \"no running node for %s\"", exitCode(err), out, n.A.Config)
	}

	sock := listenNotify(t)
	startNotified(t, n.A, sock.path)
	sock.next(t, "READY=1", 30*time.Second)

	reload := func() (int, string) {
		out, err := n.Run(n.A.NS, "reload", "-c", n.A.Config)
		t.Logf("tlsvpn reload: exit %d\n%s", exitCode(err), out)
		return exitCode(err), out
	}
	if code, out := reload(); code != 0 || !strings.Contains(out, "reloaded "+n.A.Config) {
		t.Errorf("reload of an unchanged config: exit %d, %q; want 0 and \"reloaded\"", code, out)
	}
	// systemd hears of it as of a SIGHUP: RELOADING=1, then READY=1.
	sock.next(t, "RELOADING=1", 10*time.Second)
	sock.next(t, "READY=1", 10*time.Second)

	good, err := os.ReadFile(n.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	n.WriteConfig(t, "office-a", strings.Replace(string(good), "[interface]\n", "[interface]\nmtu = 1400\n", 1))
	if code, out := reload(); code != 0 || !strings.Contains(out, "not applied until the node restarts: interface.mtu") {
		t.Errorf("reload changing the MTU: exit %d, %q; want 0 and the MTU named as waiting for a restart", code, out)
	}

	n.WriteConfig(t, "office-a", string(good)+"\nfrobnicate = true\n")
	code, out := reload()
	if code != 1 || !strings.Contains(out, "frobnicate") || !strings.Contains(out, "keeps the configuration in force") {
		t.Errorf("reload of a broken config: exit %d, %q; want 1 naming the unknown key", code, out)
	}
	if s, ok := n.A.Status(t); !ok || !strings.Contains(s.ReloadErr, "frobnicate") {
		t.Errorf("after the failed reload the node answers %v with reload_error %q; want it running, naming the key", ok, s.ReloadErr)
	}

	n.WriteConfig(t, "office-a", string(good))
	if code, out := reload(); code != 0 {
		t.Errorf("reload of the mended config: exit %d, %q", code, out)
	}
}

// requiredConfig is office-a's config with office-b required.
func requiredConfig(t *testing.T, n *Net) {
	t.Helper()
	b, err := os.ReadFile(n.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	n.WriteConfig(t, "office-a", strings.Replace(string(b), "name        = \"office-b\"\n", "name        = \"office-b\"\nrequired    = true\n", 1))
}

func TestReadyWaitsForTheRequiredPeer(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	requiredConfig(t, n)
	sock := listenNotify(t)
	startNotified(t, n.A, sock.path)

	waiting := sock.next(t, "STATUS=waiting for required peers: office-b (0/1 peers up)", 30*time.Second)
	t.Logf("office-a without office-b: %q", waiting)
	// The node runs (its status answers) and still says nothing of READY.
	if !lab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool { _, ok := n.A.Status(t); return ok }) {
		t.Fatal("office-a does not answer status")
	}
	if m, ok := sock.poll(time.Second); ok {
		t.Fatalf("office-a, whose required peer is away, told systemd %q", m)
	}

	n.B.Start(t)
	ready := sock.next(t, "READY=1", 30*time.Second)
	if p, ok := n.A.Peer(t); !ok || p.State != "connected" {
		t.Errorf("at READY=1 (%q) office-b is %q, want connected", ready, p.State)
	}
	if !strings.Contains(ready, "STATUS=1/1 peers up") {
		t.Errorf("READY=1 came with %q, want STATUS=1/1 peers up", ready)
	}
}

func TestWatchdogIsFedWhileTrafficFlows(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	sock := listenNotify(t)
	// WatchdogSec=2s: WATCHDOG=1 once a second while no loop is in one
	// pass for a second.
	startNotifiedEnv(t, n.A, sock.path, "WATCHDOG_USEC=2000000")
	sock.next(t, "READY=1", 30*time.Second)
	n.B.Start(t)
	n.A.WaitConnected(t, 20*time.Second)

	_, sinkLog := startHelper(t, n, n.Lab.LanB, "sink", net.JoinHostPort(lab.HostB4, sinkPort))
	name, args := helperCmd("source", net.JoinHostPort(lab.HostB4, sinkPort), strconv.Itoa(256<<20))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := n.Lab.RunContext(ctx, n.Lab.LanA, name, args...)
		done <- err
	}()
	fed, start, last, gap := 0, time.Now(), time.Now(), time.Duration(0)
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("transfer: %v\n%s", err, readFile(sinkLog))
			}
			running = false
		case m := <-sock.msgs:
			if m == "WATCHDOG=1" {
				fed++
				gap, last = max(gap, time.Since(last)), time.Now()
			}
		}
	}
	sock.next(t, "WATCHDOG=1", 5*time.Second)
	t.Logf("WATCHDOG=1 %d times during a transfer of %v (longest gap %v), and after it", fed, time.Since(start).Round(time.Millisecond), gap.Round(time.Millisecond))
	if strings.Contains(n.A.LogText(), "packet loop stalled") {
		t.Errorf("a loop was reported stalled under traffic:\n%s", tail(n.A.LogText(), 20))
	}
}

// metricsAddr is where office-a serves metrics, inside its namespace.
const metricsAddr = "127.0.0.1:9687"

func TestMetricsAreScrapedFromTheNamespace(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	b, err := os.ReadFile(n.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	n.WriteConfig(t, "office-a", strings.Replace(string(b), "[listen]", fmt.Sprintf("[metrics]\nlisten = %q\n\n[listen]", metricsAddr), 1))
	n.StartBoth(t)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialIn(n.A.NS), DisableKeepAlives: true}}
	scrape := func() map[string]float64 {
		t.Helper()
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("scrape: %s", resp.Status)
		}
		return parseSamples(t, resp.Body)
	}
	first := scrape()
	if got := first[`tlsvpn_peer_up{peer="office-b"}`]; got != 1 {
		t.Errorf(`tlsvpn_peer_up{peer="office-b"} = %v, want 1`, got)
	}
	for _, name := range []string{`tlsvpn_handshake_failures_total{reason="revoked"}`, "tlsvpn_cert_expiry_timestamp_seconds",
		`tlsvpn_peer_drops_total{peer="office-b",reason="no_route"}`, "tlsvpn_rotations_total", "go_goroutines", "process_open_fds"} {
		if _, ok := first[name]; !ok {
			t.Errorf("no sample %s", name)
		}
	}
	if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 5); got == 0 {
		t.Fatal("no ping through the tunnel")
	}
	second := scrape()
	for _, name := range []string{`tlsvpn_peer_rx_bytes_total{peer="office-b"}`, `tlsvpn_peer_tx_bytes_total{peer="office-b"}`} {
		if second[name] <= first[name] {
			t.Errorf("%s went from %v to %v across a ping, want it to grow", name, first[name], second[name])
		}
		t.Logf("%s: %v -> %v", name, first[name], second[name])
	}

	n.A.Stop(t, syscall.SIGTERM)
	if _, err := client.Get("http://" + metricsAddr + "/metrics"); err == nil {
		t.Error("metrics still served after the node stopped")
	}
}

func TestAMetricsAddressInUseFailsTheStart(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	b, err := os.ReadFile(n.A.Config)
	if err != nil {
		t.Fatal(err)
	}
	n.WriteConfig(t, "office-a", strings.Replace(string(b), "[listen]", fmt.Sprintf("[metrics]\nlisten = %q\n\n[listen]", metricsAddr), 1))
	startHelper(t, n, n.A.NS, "listen", metricsAddr)
	code, out := upFails(t, n, n.A)
	if code != 1 || !strings.Contains(out, metricsAddr) || !strings.Contains(out, "metrics.listen") {
		t.Errorf("up with the metrics address taken: exit %d, %q; want 1 naming %s and metrics.listen", code, out, metricsAddr)
	}
	if links := n.Links(t, n.A.NS); strings.Contains(links, tunDev) {
		t.Errorf("the failed start left %s behind:\n%s", tunDev, links)
	}
}

// dialIn returns a DialContext that opens connections from the named
// network namespace ns: each dial runs on an OS thread of its own, moved
// into ns and never returned to the pool (it ends with its goroutine).
func dialIn(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread leaves with the goroutine
			h, err := netns.GetFromName(ns)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer h.Close()
			if err := netns.Set(h); err != nil {
				ch <- result{nil, err}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// parseSamples reads Prometheus text: series (name and labels, as
// written) to value.
func parseSamples(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}
