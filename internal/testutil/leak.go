package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// leakWait is how long the leak check gives goroutines, file descriptors
// and processes to wind down after the test's cleanups: they end on their
// own (a reaper, a closing connection) and need a moment.
const leakWait = 10 * time.Second

// leakLabel is the goroutine label (runtime/pprof) that marks every
// goroutine a checked test started, directly or through others: Go hands a
// goroutine's labels down to the goroutines it starts.
const leakLabel = "tlsvpn-leakcheck"

var checkSeq atomic.Uint64

// running is the set of leak checks whose tests are running now. A check
// that ever shared the process with another leaves what is counted for the
// whole process (descriptors, processes, namespaces, interfaces) to Main.
var running struct {
	sync.Mutex
	checks map[*leakCheck]bool
}

type leakCheck struct {
	id     string // value of leakLabel on the test's goroutines
	before hostState
	wait   time.Duration
	shared bool // another checked test ran at the same time; guarded by running
}

// CheckLeaks checks, after the test and its cleanups, that it left nothing
// running: no goroutine it started (directly or not), and, when no other
// checked test ran at the same time (t.Parallel), no file descriptor, child
// process, network namespace of internal/lab or interface in the root
// namespace that was not there when CheckLeaks was called. Leftovers fail
// the test with the goroutines' stacks, the descriptors' targets, the
// processes' command lines, the names.
//
// Call it first in the test (after t.Parallel, before anything that starts
// a goroutine or opens a file); its check then runs after every other
// cleanup. A parallel test's whole-process leftovers are checked by Main at
// the end of the package. Goroutines started by time.AfterFunc carry no
// label and are not counted.
func CheckLeaks(tb testing.TB) {
	tb.Helper()
	checkLeaks(tb, leakWait)
}

func checkLeaks(tb testing.TB, wait time.Duration) {
	tb.Helper()
	warmUp()
	c := &leakCheck{id: fmt.Sprintf("%s#%d", tb.Name(), checkSeq.Add(1)), wait: wait}
	before, err := readHostState()
	if err != nil {
		tb.Fatalf("leak check: %v", err)
	}
	c.before = before
	running.Lock()
	if running.checks == nil {
		running.checks = map[*leakCheck]bool{}
	}
	for other := range running.checks {
		other.shared, c.shared = true, true
	}
	running.checks[c] = true
	running.Unlock()

	outer := pprof.WithLabels(context.Background(), pprof.Labels(leakLabel, c.id))
	pprof.SetGoroutineLabels(outer)
	tb.Cleanup(func() {
		pprof.SetGoroutineLabels(context.Background()) // the test's own goroutine is not a leak
		running.Lock()
		delete(running.checks, c)
		shared := c.shared
		running.Unlock()
		if n, stacks := c.waitGoroutines(); n > 0 {
			tb.Errorf("leak check: %d goroutine(s) still running %v after the test:\n%s", n, c.wait, stacks)
		}
		if shared {
			tb.Logf("leak check: other tests ran alongside; descriptors, processes, namespaces and interfaces are checked at the end of the package")
			return
		}
		if left := waitHost(c.before, c.wait); left != "" {
			tb.Errorf("leak check: left after the test (waited %v):\n%s", c.wait, left)
		}
	})
}

// waitGoroutines waits until no goroutine carries the check's label, and
// returns how many still do after the wait, with their stacks.
func (c *leakCheck) waitGoroutines() (int, string) {
	var n int
	var stacks string
	lab.WaitFor(c.wait, 20*time.Millisecond, func() bool {
		n, stacks = labelled(c.id)
		return n == 0
	})
	return n, stacks
}

// labelled counts the goroutines whose leakLabel is id and returns their
// stacks, as the goroutine profile groups them.
func labelled(id string) (int, string) {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	want := fmt.Sprintf("%q:%q", leakLabel, id)
	total := 0
	var out strings.Builder
	for _, block := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(block, "# labels: ") || !strings.Contains(block, want) {
			continue
		}
		var count int
		fmt.Sscanf(block, "%d @", &count)
		total += count
		out.WriteString(block + "\n\n")
	}
	return total, out.String()
}

var warm sync.Once

// warmUp makes the runtime open the descriptors it keeps for the life of
// the process (the network poller's), so they are part of every baseline.
func warmUp() {
	warm.Do(func() {
		if r, w, err := os.Pipe(); err == nil {
			r.Close()
			w.Close()
		}
	})
}

// Main runs the package's tests and then checks the whole process as
// CheckLeaks checks a single test: goroutines (by count), file
// descriptors, child processes, namespaces of internal/lab and root
// interfaces must be as they were before the first test. It returns the
// exit code for os.Exit: the tests' own, or 1 when they passed but left
// something behind.
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
func Main(m *testing.M) int {
	warmUp()
	goroutines := runtime.NumGoroutine()
	before, err := readHostState()
	if err != nil {
		fmt.Fprintln(os.Stderr, "leak check:", err)
		return 1
	}
	code := m.Run()
	var left []string
	if !lab.WaitFor(leakWait, 20*time.Millisecond, func() bool { return runtime.NumGoroutine() <= goroutines }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		left = append(left, fmt.Sprintf("%d goroutines, %d before the tests:\n%s", runtime.NumGoroutine(), goroutines, buf))
	}
	if s := waitHost(before, leakWait); s != "" {
		left = append(left, s)
	}
	if len(left) == 0 {
		return code
	}
	fmt.Fprintf(os.Stderr, "leak check: the tests left behind:\n%s\n", strings.Join(left, "\n"))
	if code == 0 {
		code = 1
	}
	return code
}

// hostState is what the process holds outside the Go runtime.
type hostState struct {
	fds        map[int]string // descriptor number -> target
	children   map[int]string // pid -> command line
	namespaces []string       // lab.ProcessNamespaces
	links      []string       // interfaces of the root network namespace
}

// waitHost waits until nothing in the state is new against before and
// returns what still is, one line each ("" when nothing is).
func waitHost(before hostState, wait time.Duration) string {
	var left string
	lab.WaitFor(wait, 20*time.Millisecond, func() bool {
		now, err := readHostState()
		if err != nil {
			left = err.Error()
			return false
		}
		left = before.diff(now)
		return left == ""
	})
	return left
}

// diff describes what now holds that s did not.
func (s hostState) diff(now hostState) string {
	var lines []string
	for _, fd := range sortedKeys(now.fds) {
		if target := now.fds[fd]; s.fds[fd] != target {
			lines = append(lines, fmt.Sprintf("file descriptor %d -> %s", fd, target))
		}
	}
	for _, pid := range sortedKeys(now.children) {
		if _, ok := s.children[pid]; !ok {
			lines = append(lines, fmt.Sprintf("child process %d: %s", pid, now.children[pid]))
		}
	}
	for _, ns := range now.namespaces {
		if !slices.Contains(s.namespaces, ns) {
			lines = append(lines, "network namespace "+ns)
		}
	}
	for _, l := range now.links {
		if !slices.Contains(s.links, l) {
			lines = append(lines, "interface "+l+" in the root network namespace")
		}
	}
	return strings.Join(lines, "\n")
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
