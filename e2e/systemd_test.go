package e2e

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// unitPath is the unit file shipped in the repository, relative to e2e/.
const unitPath = "../systemd/tlsvpn@.service"

// installedBin is the binary path the unit names; make install puts it there.
const installedBin = "/usr/local/bin/tlsvpn"

// unitCopy writes the unit, changed by transform, into a temp folder as
// tlsvpn@test.service and returns its path.
func unitCopy(t *testing.T, transform func(string) string) string {
	t.Helper()
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tlsvpn@test.service")
	if err := os.WriteFile(path, []byte(transform(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// verifyUnit runs systemd-analyze verify on path and returns its output,
// the output lines that name the unit's file, and its exit error.
func verifyUnit(t *testing.T, path string) (out string, about []string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// --man=no: the unit's Documentation= names the manual pages, which
	// the package installs; this machine need not have them.
	b, err := exec.CommandContext(ctx, "systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, filepath.Base(path)) {
			about = append(about, l)
		}
	}
	return string(b), about, err
}

// expectedVerifyNotes are the lines of systemd-analyze verify about our
// unit that are accepted; systemd 252 has none for it. (The config
// /etc/tlsvpn/test.toml need not exist: verify does not look at it.)
var expectedVerifyNotes = []*regexp.Regexp{}

func TestUnitFilePassesSystemdAnalyzeVerify(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.NeedCommand(t, "systemd-analyze", "systemd")
	useBin := func(s string) string { return strings.ReplaceAll(s, installedBin, bin) }
	t.Run("the shipped unit, with the built binary", func(t *testing.T) {
		out, about, err := verifyUnit(t, unitCopy(t, useBin))
		if out == "" {
			out = "(no output)"
		}
		t.Logf("systemd-analyze verify: %s", out)
		if err != nil {
			t.Errorf("systemd-analyze verify: %v", err)
		}
		for _, l := range about {
			if !slices.ContainsFunc(expectedVerifyNotes, func(re *regexp.Regexp) bool { return re.MatchString(l) }) {
				t.Errorf("systemd-analyze verify complains about the unit: %s", l)
			}
		}
	})
	// The check above means something only if verify reports problems in
	// our copy at all: an unknown directive and a bad value must show.
	t.Run("verify reports a broken copy", func(t *testing.T) {
		broken := func(s string) string {
			return strings.Replace(useBin(s), "[Service]\n", "[Service]\nFrobnicate=yes\nRestartSec=soon\n", 1)
		}
		out, about, _ := verifyUnit(t, unitCopy(t, broken))
		if len(about) < 2 {
			t.Errorf("systemd-analyze verify does not report an unknown key and a bad value:\n%s", out)
		}
	})
}

// unitFile is a parsed unit file: section -> key -> the values assigned,
// in order (an empty assignment resets a list, as systemd does).
type unitFile map[string]map[string][]string

// parseUnit reads a systemd unit file; continuation lines are not used in
// ours and not supported.
func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot parse %q", path, line)
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if v == "" {
				delete(u[section], k)
				continue
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// words returns the space-separated words of every assignment of key.
func (u unitFile) words(section, key string) []string {
	var w []string
	for _, v := range u[section][key] {
		w = append(w, strings.Fields(v)...)
	}
	return w
}

func TestUnitSandboxAllowsWhatTheBinaryUses(t *testing.T) {
	testutil.CheckLeaks(t)
	u := parseUnit(t, unitPath)
	svc := "Service"
	one := func(key string) string { return strings.Join(u[svc][key], " ") }
	if got := one("Type"); got != "notify" {
		t.Errorf("Type=%s, want notify", got)
	}
	if got, want := one("ExecStart"), installedBin+" up -c /etc/tlsvpn/%i.toml"; got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	// tlsvpn reload waits for the node's verdict, so that systemctl reload
	// fails when the reload did; minimal Debian has no /bin/kill anyway.
	if got, want := one("ExecReload"), installedBin+" reload -c /etc/tlsvpn/%i.toml"; got != want {
		t.Errorf("ExecReload=%s, want %s", got, want)
	}
	if got := one("StateDirectory"); got != "tlsvpn" {
		t.Errorf("StateDirectory=%s, want tlsvpn", got)
	}
	if one("WatchdogSec") == "" || one("TimeoutAbortSec") == "" {
		t.Errorf("WatchdogSec=%q TimeoutAbortSec=%q, want both set", one("WatchdogSec"), one("TimeoutAbortSec"))
	}
	caps := u.words(svc, "CapabilityBoundingSet")
	if !slices.Contains(caps, "CAP_NET_ADMIN") || strings.HasPrefix(one("CapabilityBoundingSet"), "~") {
		t.Errorf("CapabilityBoundingSet=%v, want it to keep CAP_NET_ADMIN", caps)
	}
	fams := u.words(svc, "RestrictAddressFamilies")
	if strings.HasPrefix(one("RestrictAddressFamilies"), "~") {
		t.Errorf("RestrictAddressFamilies=%v is a deny list; want an allow list", fams)
	}
	for _, f := range []string{"AF_NETLINK", "AF_UNIX", "AF_INET", "AF_INET6"} {
		if !slices.Contains(fams, f) {
			t.Errorf("RestrictAddressFamilies=%v lacks %s", fams, f)
		}
	}
	if !slices.ContainsFunc(u[svc]["DeviceAllow"], func(v string) bool {
		f := strings.Fields(v)
		return len(f) == 2 && f[0] == "/dev/net/tun" && strings.Contains(f[1], "r") && strings.Contains(f[1], "w")
	}) {
		t.Errorf("DeviceAllow=%v, want /dev/net/tun rw", u[svc]["DeviceAllow"])
	}
	// A private /dev lacks the TUN device unless it is bound in.
	if yes(one("PrivateDevices")) && !slices.ContainsFunc(u.words(svc, "BindPaths"), func(p string) bool {
		return strings.TrimPrefix(p, "-") == "/dev/net/tun"
	}) {
		t.Errorf("PrivateDevices=%s without BindPaths=/dev/net/tun hides the TUN device", one("PrivateDevices"))
	}
	for _, key := range []string{"PrivateNetwork", "PrivateUsers"} {
		if yes(one(key)) {
			t.Errorf("%s=%s would hide the host's network or its capabilities from the node", key, one(key))
		}
	}
	// check and up read /proc/sys/net/ipv{4,6}/.../forwarding.
	if got := one("ProcSubset"); got == "pid" {
		t.Errorf("ProcSubset=%s hides /proc/sys, where the forwarding warning looks", got)
	}
	t.Logf("unit [Service]: %v", u[svc])
}

// yes reports whether a unit file boolean is true.
func yes(v string) bool { return slices.Contains([]string{"yes", "true", "on", "1"}, v) }

// maxExposure is the most systemd-analyze security may score the unit.
const maxExposure = 2.0

func TestUnitExposureIsAtMostTwo(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.NeedCommand(t, "systemd-analyze", "systemd")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := unitCopy(t, func(s string) string { return s })
	out, err := exec.CommandContext(ctx, "systemd-analyze", "security", "--offline=yes", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	checkExposure(t, out)
}

// overallExposure matches the last line of systemd-analyze security.
var overallExposure = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// checkExposure reads the overall exposure from the output of
// systemd-analyze security, logs it with what remains exposed, and fails
// the test when it is above maxExposure.
func checkExposure(t *testing.T, out []byte) {
	t.Helper()
	m := overallExposure.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exposure %.1f; what remains exposed:\n%s", score, exposedLines(out))
	if score > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f", score, maxExposure)
	}
}

// exposedLines keeps the lines of systemd-analyze security that count
// against the unit (marked ✗).
func exposedLines(out []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "✗") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// notifyListener is a NOTIFY_SOCKET: a unixgram socket whose datagrams a
// goroutine it owns hands out on msgs until Close.
type notifyListener struct {
	path string
	conn *net.UnixConn
	msgs chan string
	done chan struct{}
}

// listenNotify opens a notify socket in a temp folder; the test's cleanup
// closes it.
func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on notify socket: %v", err)
	}
	l := &notifyListener{path: path, conn: conn, msgs: make(chan string, 64), done: make(chan struct{})}
	go l.read()
	t.Cleanup(l.Close)
	return l
}

func (l *notifyListener) read() {
	defer close(l.done)
	buf := make([]byte, 4096)
	for {
		n, err := l.conn.Read(buf)
		if err != nil {
			return // closed
		}
		select {
		case l.msgs <- string(buf[:n]):
		default: // the test stopped reading; drop
		}
	}
}

// Close stops the reader and waits for it.
func (l *notifyListener) Close() {
	l.conn.Close()
	<-l.done
}

// next waits up to d for the next datagram that carries state ("READY=1"
// as one of its lines) and returns it; datagrams before it are logged and
// skipped.
func (l *notifyListener) next(t *testing.T, state string, d time.Duration) string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m := <-l.msgs:
			if slices.Contains(strings.Split(m, "\n"), state) {
				return m
			}
			t.Logf("notify (skipped while waiting for %s): %q", state, m)
		case <-timer.C:
			t.Fatalf("no %s on the notify socket within %v", state, d)
			return ""
		}
	}
}

// poll returns the next datagram if one comes within d.
func (l *notifyListener) poll(d time.Duration) (string, bool) {
	select {
	case m := <-l.msgs:
		return m, true
	case <-time.After(d):
		return "", false
	}
}

// startNotified starts `tlsvpn up` for nd with NOTIFY_SOCKET set, logging
// to a file; it returns the command and a channel closed when it exited.
func startNotified(t *testing.T, nd *Node, socket string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	return startNotifiedEnv(t, nd, socket)
}

// startNotifiedEnv is startNotified with more environment variables
// ("WATCHDOG_USEC=2000000").
func startNotifiedEnv(t *testing.T, nd *Node, socket string, env ...string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	log, err := os.Create(filepath.Join(t.TempDir(), nd.Name+".notify.log"))
	if err != nil {
		t.Fatal(err)
	}
	nd.Log = log.Name()
	cmd := exec.Command("ip", "netns", "exec", nd.NS, bin, "up", "-c", nd.Config, "--log-level", "debug")
	cmd.Env = append(append(os.Environ(), "NOTIFY_SOCKET="+socket), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("start %s: %v", nd.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	return cmd, exited
}

func TestNotifySocketSeesReadyReloadingAndStopping(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	sock := listenNotify(t)
	cmd, exited := startNotified(t, n.A, sock.path)

	ready := sock.next(t, "READY=1", 30*time.Second)
	// Right now, not polled: READY=1 promises the interface and the listener.
	addr, err := n.Lab.Run(n.Lab.GwA, "ip", "-o", "addr", "show", "dev", tunDev)
	if err != nil || !strings.Contains(addr, "100.64.0.1/24") {
		t.Errorf("at READY=1 (%q), %s lacks 100.64.0.1/24: %v\n%s", ready, tunDev, err, addr)
	}
	ss, err := n.Lab.Run(n.Lab.GwA, "ss", "-Hltn")
	if err != nil || !strings.Contains(ss, lab.UnderlayA+":"+listenPort) {
		t.Errorf("at READY=1, nothing listens on %s:%s: %v\n%s", lab.UnderlayA, listenPort, err, ss)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	reloading := sock.next(t, "RELOADING=1", 30*time.Second)
	readyAgain := sock.next(t, "READY=1", 30*time.Second)
	t.Logf("SIGHUP: %q then %q", reloading, readyAgain)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopping := sock.next(t, "STOPPING=1", 30*time.Second)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM")
	}
	if !cmd.ProcessState.Success() {
		t.Errorf("exit after SIGTERM: %v, want status 0", cmd.ProcessState)
	}
	t.Logf("SIGTERM: %q, then exit: %v", stopping, cmd.ProcessState)
}
