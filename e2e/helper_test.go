package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// The test binary doubles as a small traffic tool that runs inside the
// lab's namespaces: TestMain calls helperMain when TLSVPN_E2E_HELPER names
// a mode. Tests start it with helperCmd. Modes and their arguments:
//
//	sink ADDR          accept one TCP connection on ADDR, hash what arrives
//	                   until EOF, print the count and the SHA-256, exit 0
//	source ADDR BYTES  connect to ADDR, send BYTES deterministic
//	                   pseudo-random bytes, wait for the sink to close,
//	                   print the count, the SHA-256 and the duration
//	listen ADDR        hold a TCP listener on ADDR until killed
//	frames, capture    raw Ethernet frames (frames_helper_test.go)
//
// sink and listen print "ready" once they listen. Every mode ends by itself
// after helperLifetime at the latest.
const helperEnv = "TLSVPN_E2E_HELPER"

// Bounds of the helper modes: a helper never outlives its test for long,
// even when the test is killed before its cleanup runs.
const (
	helperLifetime = 3 * time.Minute
	helperReady    = "ready"
)

// helperSeed fixes the pseudo-random stream the source sends.
var helperSeed = [32]byte{'t', 'l', 's', 'v', 'p', 'n', ' ', 'e', '2', 'e'}

// helperMain runs helper mode with the process's remaining arguments and
// returns the exit status: 0 on success, 1 on failure, 2 on bad usage.
func helperMain(mode string) int {
	args := os.Args[1:]
	var err error
	switch {
	case mode == "sink" && len(args) == 1:
		err = sink(args[0])
	case mode == "source" && len(args) == 2:
		err = source(args[0], args[1])
	case mode == "listen" && len(args) == 1:
		err = holdListener(args[0])
	case mode == "frames" && len(args) == 4:
		err = sendFrames(args[0], args[1], args[2], args[3])
	case mode == "capture" && len(args) == 3:
		err = capture(args[0], args[1], args[2])
	default:
		fmt.Fprintf(os.Stderr, "helper: bad mode %q or arguments %q\n", mode, args)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// listenReady listens on addr until helperLifetime from now, which it
// returns, and says it is ready.
func listenReady(addr string) (*net.TCPListener, time.Time, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, time.Time{}, err
	}
	deadline := time.Now().Add(helperLifetime)
	tl := ln.(*net.TCPListener)
	tl.SetDeadline(deadline)
	fmt.Println(helperReady)
	return tl, deadline, nil
}

// sink accepts one connection and reports what came over it.
func sink(addr string) error {
	ln, deadline, err := listenReady(addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("accept on %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	h := sha256.New()
	n, err := io.Copy(h, bufio.NewReaderSize(c, 1<<20))
	if err != nil {
		return fmt.Errorf("receive from %s after %d bytes: %w", c.RemoteAddr(), n, err)
	}
	fmt.Printf("received %d bytes sha256 %s\n", n, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// source sends count pseudo-random bytes, half-closes and waits for the
// sink to close, so the duration it prints covers the delivery of every
// byte.
func source(addr, count string) error {
	total, err := strconv.ParseInt(count, 10, 64)
	if err != nil || total < 0 {
		return fmt.Errorf("byte count %q: want a number >= 0", count)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(helperLifetime))
	start := time.Now()
	h := sha256.New()
	src := io.LimitReader(rand.NewChaCha8(helperSeed), total)
	n, err := io.CopyBuffer(io.MultiWriter(c, h), src, make([]byte, 256<<10))
	if err != nil {
		return fmt.Errorf("send to %s after %d bytes: %w", addr, n, err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return fmt.Errorf("half-close to %s: %w", addr, err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("wait for %s to close: %w", addr, err)
	}
	fmt.Printf("sent %d bytes sha256 %s in %v\n", n, hex.EncodeToString(h.Sum(nil)), time.Since(start))
	return nil
}

// holdListener binds addr and keeps it until killed or helperLifetime ends.
func holdListener(addr string) error {
	ln, _, err := listenReady(addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	for {
		c, err := ln.Accept()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
		c.Close()
	}
}

// helperCmd is the program and arguments that run helper mode with args
// inside a namespace: through env(1), since Topology.Start and Run pass no
// environment of their own. env execs in place, so the pid is the helper's.
func helperCmd(mode string, args ...string) (string, []string) {
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	return "env", append([]string{helperEnv + "=" + mode, self}, args...)
}

// transferResult is what a sink or source printed.
type transferResult struct {
	Bytes    int64
	SHA256   string
	Duration time.Duration // source only
}

// parseTransfer reads the "received"/"sent" line of a sink or source.
func parseTransfer(out string) (transferResult, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || (f[0] != "received" && f[0] != "sent") || f[2] != "bytes" || f[3] != "sha256" {
			continue
		}
		var r transferResult
		var err error
		if r.Bytes, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return r, fmt.Errorf("bad byte count in %q", line)
		}
		r.SHA256 = f[4]
		if len(f) == 7 && f[5] == "in" {
			if r.Duration, err = time.ParseDuration(f[6]); err != nil {
				return r, fmt.Errorf("bad duration in %q", line)
			}
		}
		return r, nil
	}
	return transferResult{}, fmt.Errorf("no transfer summary in output:\n%s", out)
}

// startHelper starts helper mode with args in namespace ns and waits until
// it is ready. The lab stops it at the latest when the test ends.
func startHelper(t *testing.T, n *Net, ns, mode string, args ...string) (*lab.Proc, string) {
	t.Helper()
	log := filepath.Join(n.Dir, fmt.Sprintf("helper-%s-%d.log", mode, time.Now().UnixNano()))
	name, argv := helperCmd(mode, args...)
	p, err := n.Lab.Start(ns, log, name, argv...)
	if err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	ready := lab.WaitFor(10*time.Second, 10*time.Millisecond, func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), helperReady+"\n") || p.Exited()
	})
	if b, _ := os.ReadFile(log); !ready || !strings.Contains(string(b), helperReady+"\n") {
		t.Fatalf("helper %s %q in %s not ready within 10s:\n%s", mode, args, ns, b)
	}
	return p, log
}

// exitCode is the exit status in err from Run (0 for nil, -1 when the
// program did not run or was killed).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// counters asks the running node for its tunnel's counters; the node must
// answer and list one peer.
func counters(t *testing.T, nd *Node) tunnel.Status {
	t.Helper()
	s, ok := nd.Status(t)
	if !ok || len(s.Tunnel.Peers) != 1 {
		t.Fatalf("status of %s: answered %v, peers %+v; want one peer", nd.Name, ok, s.Tunnel.Peers)
	}
	return s.Tunnel
}

// noRouteDrops is the node's tunnel.no_route_drops counter.
func noRouteDrops(t *testing.T, nd *Node) uint64 {
	t.Helper()
	return counters(t, nd).NoRouteDrops
}

// txBytes is the bytes the node has sent to its only peer.
func txBytes(t *testing.T, nd *Node) uint64 {
	t.Helper()
	return counters(t, nd).Peers[0].TxBytes
}

// pingLoss matches the summary of ping.
var pingLoss = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss`)

// pingAcross pings lanB's host from lanA every 10 ms, count times, in the
// background (see pingInBackground).
func pingAcross(n *Net, count int) <-chan string {
	return pingInBackground(n, n.Lab.LanA, lab.HostB4, count)
}

// pingInBackground pings to from the namespace ns every 10 ms, count times,
// in the background; the channel gets ping's output when it ends. The
// goroutine is bounded by the count and by the lab's timeout of 60 s for
// any command.
func pingInBackground(n *Net, ns, to string, count int) <-chan string {
	done := make(chan string, 1)
	go func() {
		out, err := n.Lab.Run(ns, "ping", "-n", "-q", "-i", "0.01", "-W", "1", "-c", itoa(count), to)
		if err != nil && !pingLoss.MatchString(out) {
			out += "\n" + err.Error()
		}
		done <- out
	}()
	return done
}

// checkNoLoss asserts that ping's output reports 0% packet loss.
func checkNoLoss(t *testing.T, what, out string) {
	t.Helper()
	m := pingLoss.FindStringSubmatch(out)
	if m == nil || m[3] != "0" {
		t.Errorf("%s: want 0%% packet loss\n%s", what, out)
		return
	}
	t.Logf("%s: %s", what, strings.TrimSpace(m[0]))
}

// stillRunning fails the test when the background ping has already ended:
// then what it was meant to cross did not happen under traffic.
func stillRunning(t *testing.T, ping <-chan string, what string) string {
	t.Helper()
	select {
	case out := <-ping:
		t.Errorf("the ping ended before %s; the test did not run it under traffic", what)
		return out
	default:
		return <-ping
	}
}

// readFile returns the text of path, or "" when it cannot be read.
func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
