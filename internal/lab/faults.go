package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SetLink sets device dev in namespace ns up or down: a fault on the
// underlay (or a LAN) as a cable pull would make it.
func (t *Topology) SetLink(ns, dev string, up bool) error {
	if err := t.check(ns); err != nil {
		return err
	}
	state := "down"
	if up {
		state = "up"
	}
	if _, err := ip("-n", ns, "link", "set", dev, state); err != nil {
		return fmt.Errorf("set link %s in %s %s: %w", dev, ns, state, err)
	}
	return nil
}

// addressPlan holds every prefix the topology and its tunnels use
// (docs/design.md, "The test topology"). Ping sends nowhere else.
var addressPlan = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.0/24"),
	netip.MustParsePrefix("198.18.1.0/24"), // a second underlay (remote access, containers)
	netip.MustParsePrefix("100.64.0.0/24"),
	netip.MustParsePrefix("fd64::/64"),
	netip.MustParsePrefix("10.1.0.0/24"),
	netip.MustParsePrefix("fd01::/64"),
	netip.MustParsePrefix("10.2.0.0/24"),
	netip.MustParsePrefix("fd02::/64"),
	netip.MustParsePrefix("198.18.1.0/24"),
	netip.MustParsePrefix("10.9.0.0/24"),
	netip.MustParsePrefix("fd09::/64"),
}

// inPlan reports whether addr is a literal address of the address plan or a
// loopback address.
func inPlan(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	if a.IsLoopback() {
		return true
	}
	for _, p := range addressPlan {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxPingCount bounds Ping's count (at 0.2 s per echo: 20 s).
const maxPingCount = 100

var pingReceived = regexp.MustCompile(`(\d+) (?:packets )?received`)

// Ping runs "ping -n -c count -W 1 -i 0.2 to" inside namespace from and
// returns how many replies came back, with ping's output. to must be a
// literal address of the address plan (or loopback). err is nil when ping ran
// and printed its summary, whatever the loss; otherwise (no route, ping not
// installed, a bad argument) err says why and received is 0.
func (t *Topology) Ping(from, to string, count int) (received int, out string, err error) {
	return t.PingFrom(from, "", to, count)
}

// PingFrom is Ping with the echoes sent from source address src ("-I src"),
// which must be configured in namespace from; "" lets the kernel choose.
func (t *Topology) PingFrom(from, src, to string, count int) (received int, out string, err error) {
	run := func(args ...string) (string, error) {
		if src != "" {
			args = append([]string{"-I", src}, args...)
		}
		return t.Run(from, "ping", args...)
	}
	return ping(run, from, to, count)
}

// ping runs ping through run, with the arguments and checks of
// Topology.Ping; from names where it runs, for errors.
func ping(run func(args ...string) (string, error), from, to string, count int) (received int, out string, err error) {
	if count < 1 || count > maxPingCount {
		return 0, "", fmt.Errorf("ping %s: count %d out of 1..%d", to, count, maxPingCount)
	}
	if !inPlan(to) {
		return 0, "", fmt.Errorf("ping %s: not an address of the lab's address plan", to)
	}
	out, runErr := run("-n", "-c", strconv.Itoa(count), "-W", "1", "-i", "0.2", to)
	m := pingReceived.FindStringSubmatch(out)
	if m == nil {
		if runErr == nil {
			runErr = fmt.Errorf("ping %s from %s: no summary in output: %s", to, from, out)
		}
		return 0, out, runErr
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, out, fmt.Errorf("ping %s from %s: bad summary %q", to, from, m[0])
	}
	return n, out, nil
}

// WaitFor calls cond every poll (at least every millisecond) until it
// returns true or timeout has passed, and returns cond's last result. cond
// runs at least once, and once more after the deadline.
func WaitFor(timeout time.Duration, poll time.Duration, cond func() bool) bool {
	poll = max(poll, time.Millisecond)
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(poll, left))
	}
}

// Dump returns the addresses and the IPv4 and IPv6 routes of namespace ns,
// for a failing test to log. Errors are part of the text.
func (t *Topology) Dump(ns string) string {
	var b strings.Builder
	for _, args := range [][]string{{"addr"}, {"-4", "route"}, {"-6", "route"}} {
		fmt.Fprintf(&b, "# ip -n %s %s\n", ns, strings.Join(args, " "))
		out, err := ip(append([]string{"-n", ns}, args...)...)
		b.WriteString(out)
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
	}
	return b.String()
}

// DumpAll returns Dump of every namespace of the topology.
func (t *Topology) DumpAll() string {
	var b strings.Builder
	for _, ns := range t.Namespaces() {
		b.WriteString(t.Dump(ns))
	}
	return b.String()
}
