package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose failures and cleanups the test inspects
// instead of suffering them.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
	logs     []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.TB.Fatalf(format, args...) }
func (r *recorder) runCleanups() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// checked runs body under a leak check with a short wait and returns what
// the check reported.
func checked(t *testing.T, body func()) *recorder {
	r := &recorder{TB: t}
	checkLeaks(r, 300*time.Millisecond)
	body()
	r.runCleanups()
	return r
}

func TestALeakedGoroutineIsReportedWithItsStack(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := checked(t, func() {
		go blockUntil(stop)
	})
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "1 goroutine(s)") || !strings.Contains(r.errs[0], "testutil.blockUntil") {
		t.Errorf("want one error naming 1 goroutine in blockUntil; got %q", r.errs)
	}
}

func blockUntil(stop <-chan struct{}) { <-stop }

func TestAGoroutineStartedByAnotherIsCountedToo(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := checked(t, func() {
		started := make(chan struct{})
		go func() {
			go blockUntil(stop)
			close(started)
		}()
		<-started
	})
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "testutil.blockUntil") {
		t.Errorf("want the grandchild goroutine reported; got %q", r.errs)
	}
}

func TestGoroutinesThatEndDuringTheWaitAreNoLeak(t *testing.T) {
	r := checked(t, func() {
		go time.Sleep(100 * time.Millisecond)
	})
	if len(r.errs) != 0 {
		t.Errorf("a goroutine that ended within the wait was reported: %q", r.errs)
	}
}

func TestALeakedFileIsReportedByItsPath(t *testing.T) {
	path := t.TempDir() + "/leaked-file"
	var f *os.File
	r := checked(t, func() {
		var err error
		if f, err = os.Create(path); err != nil {
			t.Fatal(err)
		}
	})
	f.Close()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "-> "+path) {
		t.Errorf("want one error naming %s; got %q", path, r.errs)
	}
}

func TestALeftChildProcessIsReportedByItsCommandLine(t *testing.T) {
	var cmd *exec.Cmd
	r := checked(t, func() {
		cmd = exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	})
	cmd.Process.Kill()
	cmd.Wait()
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "child process") || !strings.Contains(r.errs[0], "sleep 30") {
		t.Errorf("want one error naming the sleep 30 child; got %q", r.errs)
	}
}

func TestACleanTestPasses(t *testing.T) {
	r := checked(t, func() {
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
		f, err := os.Open(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	})
	if len(r.errs) != 0 {
		t.Errorf("a test that stopped its goroutine and closed its file was reported: %q", r.errs)
	}
}

func TestTestsRunningAlongsideLeaveHostChecksToMain(t *testing.T) {
	outer := &recorder{TB: t}
	checkLeaks(outer, 300*time.Millisecond)
	var f *os.File
	inner := checked(t, func() {
		var err error
		if f, err = os.Open(os.Args[0]); err != nil {
			t.Fatal(err)
		}
	})
	f.Close()
	outer.runCleanups()
	for _, r := range []*recorder{outer, inner} {
		if len(r.errs) != 0 || len(r.logs) != 1 || !strings.Contains(r.logs[0], "end of the package") {
			t.Errorf("want no error and a note that the host checks moved to Main; got errors %q, logs %q", r.errs, r.logs)
		}
	}
}

func TestParentOfReadsTheFourthFieldPastTheCommandName(t *testing.T) {
	for stat, want := range map[string]int{
		"123 (sleep) S 77 123 77 0": 77,
		"9 (a) b (c)) R 4 9 9 0":    4,
		"no parentheses here":       -1,
		"5 (short)":                 -1,
		"5 (x) S notanumber 1":      -1,
	} {
		if got := parentOf(stat); got != want {
			t.Errorf("parentOf(%q) = %d, want %d", stat, got, want)
		}
	}
}
