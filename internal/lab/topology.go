package lab

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ErrClosed is returned by Run, Start and the other helpers after Close.
var ErrClosed = errors.New("lab topology closed")

// Options choose the shape of a topology.
type Options struct {
	// LANs adds the two LAN host namespaces behind the gateways. Without
	// them the topology is only gwA and gwB joined by one veth.
	LANs bool
	// Layer2 makes the LANs one layer-2 segment for TAP mode (layer2.go):
	// each gateway holds a bridge with its LAN veth in it. It implies LANs.
	Layer2 bool
	// ThirdSite adds a third gateway and its LAN host, gwC and lanC, the
	// spoke of a star whose hub is gwA (layer2.go). It needs Layer2.
	ThirdSite bool
}

// Topology is a set of network namespaces wired as in the package comment.
//
// Its methods may be called from several goroutines. After Close, Run and
// Start return ErrClosed.
type Topology struct {
	Prefix               string // every namespace name starts with it
	LanA, GwA, GwB, LanB string // namespace names; LanA and LanB are "" without LANs
	GwC, LanC            string // the third site's namespaces; "" without ThirdSite
	layer2               bool

	mu       sync.Mutex
	made     []string // namespaces this topology created, in creation order
	procs    []*Proc  // processes started by Start
	closed   bool
	closeErr error
}

// Timeouts of the lab's own operations.
const (
	runTimeout  = 60 * time.Second // any one command
	killTimeout = 5 * time.Second  // until a namespace is empty after SIGKILL
)

var prefixSeq atomic.Uint32

// processPrefix starts the name of every namespace this package makes in
// this process (New, EnterNetns, UniqueName, containers).
func processPrefix() string { return fmt.Sprintf("tv%dx", os.Getpid()) }

// nextPrefix returns a prefix unique to this process and call: "tv<pid>x<n>".
func nextPrefix() string {
	return fmt.Sprintf("%s%d", processPrefix(), prefixSeq.Add(1))
}

// ProcessNamespaces lists the named network namespaces this package made
// in this process that still exist, for a leak check: none once every
// topology, namespace and container is closed.
func ProcessNamespaces() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), processPrefix()) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// UniqueName returns a network namespace name unique to this process and
// call, ending in tag: "tv<pid>x<n>-<tag>". The caller creates and deletes it.
func UniqueName(tag string) string { return nextPrefix() + "-" + tag }

// New builds a topology for a test with a unique prefix and registers its
// Close with tb.Cleanup, so it is removed also when the test fails. When the
// test has failed, the cleanup first logs the Dump of every namespace. Not
// root, New skips the test; a build failure ends it with tb.Fatalf.
func New(tb testing.TB, o Options) *Topology {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: builds network namespaces with ip netns")
	}
	t, err := Build(nextPrefix(), o)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("lab diagnostics:\n%s", t.DumpAll())
		}
		if err := t.Close(); err != nil {
			tb.Errorf("lab: %v", err)
		}
	})
	return t
}

// Build creates the namespaces named prefix+"-gwA", "-gwB" (and "-lanA",
// "-lanB" with LANs) and wires them. The prefix must be 1 to 24 letters or
// digits. On error it removes everything it made before returning, and leaves
// alone namespaces it did not make (such as one that already existed).
func Build(prefix string, o Options) (*Topology, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	if o.ThirdSite && !o.Layer2 {
		return nil, fmt.Errorf("build topology %s: a third site needs Layer2", prefix)
	}
	t := &Topology{Prefix: prefix, GwA: prefix + "-gwA", GwB: prefix + "-gwB", layer2: o.Layer2}
	if o.LANs || o.Layer2 {
		t.LanA, t.LanB = prefix+"-lanA", prefix+"-lanB"
	}
	if o.ThirdSite {
		t.GwC, t.LanC = prefix+"-gwC", prefix+"-lanC"
	}
	if err := t.build(); err != nil {
		if cerr := t.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("build topology %s: %w", prefix, err)
	}
	return t, nil
}

func checkPrefix(prefix string) error {
	if prefix == "" || len(prefix) > 24 {
		return fmt.Errorf("lab prefix %q: want 1 to 24 characters", prefix)
	}
	for _, c := range prefix {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return fmt.Errorf("lab prefix %q: want only letters and digits", prefix)
		}
	}
	return nil
}

// Namespaces returns the topology's namespace names, from lanA to lanB
// (then gwC and lanC).
func (t *Topology) Namespaces() []string {
	var names []string
	for _, ns := range []string{t.LanA, t.GwA, t.GwB, t.LanB, t.GwC, t.LanC} {
		if ns != "" {
			names = append(names, ns)
		}
	}
	return names
}

// Close kills every process still in the namespaces (those started by Start
// and any other), waits for the ones started by Start to be reaped, and
// deletes the namespaces. It is idempotent: later calls return the first
// call's result.
func (t *Topology) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.closeErr
	}
	t.closed = true
	var errs []error
	for _, ns := range t.made {
		errs = append(errs, killAll(ns))
	}
	for _, p := range t.procs {
		if !p.waitTimeout(killTimeout) {
			errs = append(errs, fmt.Errorf("pid %d (%s) not reaped %v after SIGKILL", p.Pid(), p.name, killTimeout))
		}
	}
	for i := len(t.made) - 1; i >= 0; i-- {
		if _, err := ip("netns", "del", t.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.closeErr = fmt.Errorf("close topology %s: %w", t.Prefix, err)
	}
	return t.closeErr
}

// check returns an error unless ns is one of t's namespaces and t is open.
// The caller must not hold t.mu.
func (t *Topology) check(ns string) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return t.owns(ns)
}

func (t *Topology) owns(ns string) error {
	for _, n := range t.Namespaces() {
		if ns != "" && n == ns {
			return nil
		}
	}
	return fmt.Errorf("namespace %q is not part of topology %s", ns, t.Prefix)
}
