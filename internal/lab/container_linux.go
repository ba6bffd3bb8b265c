package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BootOptions say how Boot starts a container.
type BootOptions struct {
	// ReadOnlyBinds shows host paths inside the container, read-only: host
	// path → path in the container (e.g. a freshly built binary →
	// /usr/local/bin/tlsvpn). Both must be absolute.
	ReadOnlyBinds map[string]string
}

// Container is a Debian 12 system booted with systemd-nspawn: a real systemd
// as its PID 1, with D-Bus, journald and systemd-resolved running, its own
// network namespace holding only lo (see JoinVeth), and a file system that is
// an overlay on the cached Root kept in memory, so whatever a test changes
// is gone at Close. It runs in a cgroup of its own.
//
// Its methods may be called from several goroutines. After Close, Run and
// the other helpers return ErrClosed.
type Container struct {
	Name string // machine name and host name, unique per Boot
	PID  int    // host pid of the container's systemd (PID 1 inside)

	nspawn  *exec.Cmd
	done    chan struct{} // closed when nspawn has been reaped
	console *os.File      // nspawn's output: the boot messages
	cg      *cgroup
	pidNS   *os.File // the container's pid namespace, held open until Close

	mu       sync.Mutex
	closed   bool
	closeErr error
}

// Bounds of the container's life.
const (
	bootTimeout     = 120 * time.Second // until systemctl is-system-running says running
	poweroffTimeout = 60 * time.Second  // after SIGTERM, until nspawn has exited
)

// Boot starts a container on the cached Root (building it first when the
// cache lacks it), waits until systemd reports the system running (or
// degraded: a unit failed), and registers Close with tb.Cleanup. When the
// test has failed, the cleanup first logs the boot messages and the journal.
// Not root, Boot skips the test; a failed boot ends it with tb.Fatalf.
func Boot(tb testing.TB, o BootOptions) *Container {
	tb.Helper()
	root := Root(tb)
	c, err := boot(root, nextPrefix(), filepath.Join(tb.TempDir(), "console.log"), o)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("container %s diagnostics:\n%s", c.Name, c.Diagnostics())
		}
		if err := c.Close(); err != nil {
			tb.Errorf("lab: %v", err)
		}
	})
	if state, err := c.waitRunning(); err != nil {
		tb.Fatalf("lab: %v", err) // the cleanup logs the diagnostics
	} else if state == "degraded" {
		failed, _ := c.Run("systemctl", "--failed", "--no-legend")
		tb.Logf("lab: container %s booted degraded; failed units:\n%s", c.Name, failed)
	}
	return c
}

// boot starts systemd-nspawn for root in a new cgroup and finds the
// container's PID 1. On error it cleans up what it made.
func boot(root, name, consolePath string, o BootOptions) (c *Container, err error) {
	c = &Container{Name: name, done: make(chan struct{})}
	defer func() {
		if err != nil {
			err = fmt.Errorf("boot container %s: %w", name, errors.Join(err, c.Close()))
		}
	}()
	if c.console, err = os.Create(consolePath); err != nil {
		return c, err
	}
	if c.cg, err = newCgroup("tlsvpn-test-" + name); err != nil {
		return c, err
	}
	args, err := nspawnArgs(root, name, o)
	if err != nil {
		return c, err
	}
	// A shell moves itself into the cgroup, then becomes systemd-nspawn:
	// nspawn puts the container below the cgroup it starts in.
	script := `for f in ` + strings.Join(c.cg.procsFiles(), " ") + `; do echo $$ >"$f" || exit 1; done; exec "$@"`
	c.nspawn = exec.Command("sh", append([]string{"-c", script, "sh", "systemd-nspawn"}, args...)...)
	c.nspawn.Stdout, c.nspawn.Stderr = c.console, c.console
	// Should this process die without Close (a test binary's timeout), the
	// kernel sends nspawn SIGTERM, which powers the container off.
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := startLocked(c.nspawn, c.done); err != nil {
		return c, err
	}
	return c, c.findInit()
}

// startLocked starts cmd from a goroutine that keeps its OS thread until cmd
// has been reaped, then closes done. Pdeathsig fires when the thread that
// started the process ends, and the Go runtime ends a thread whenever a
// goroutine exits while locked to it: a thread lent out to other goroutines
// could take the process down with it at any time.
func startLocked(cmd *exec.Cmd, done chan<- struct{}) error {
	started := make(chan error, 1)
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
	}()
	return <-started
}

// nspawnArgs returns systemd-nspawn's arguments. --keep-unit and
// --register=no keep it away from the host's systemd and machined (PID 1 of
// the host need not be systemd); --volatile=overlay puts a tmpfs overlay over
// root, which stays untouched and may be shared by many containers at once.
func nspawnArgs(root, name string, o BootOptions) ([]string, error) {
	args := []string{"--boot", "--keep-unit", "--register=no", "--private-network",
		"--volatile=overlay", "--link-journal=no", "--console=read-only", "--setenv=SYSTEMD_COLORS=0",
		"--machine=" + name, "--directory=" + root}
	hosts := make([]string, 0, len(o.ReadOnlyBinds))
	for h := range o.ReadOnlyBinds {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		in := o.ReadOnlyBinds[h]
		if !filepath.IsAbs(h) || !filepath.IsAbs(in) || strings.Contains(h+in, ":") {
			return nil, fmt.Errorf("bind %q to %q: want two absolute paths without a colon", h, in)
		}
		args = append(args, "--bind-ro="+h+":"+in)
	}
	return args, nil
}

// findInit waits for nspawn's child in a new pid namespace (the container's
// PID 1) and records it, holding its pid namespace open.
func (c *Container) findInit() error {
	own, err := nsID("/proc/self/ns/pid")
	if err != nil {
		return err
	}
	nspawn := c.nspawn.Process.Pid
	found := WaitFor(bootTimeout, 20*time.Millisecond, func() bool {
		if c.exited() {
			return true
		}
		for _, pid := range children(nspawn) {
			f, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", pid))
			if err != nil {
				continue
			}
			if id, err := heldNSID(f); err == nil && id != own {
				c.PID, c.pidNS = pid, f
				return true
			}
			f.Close()
		}
		return false
	})
	switch {
	case c.exited():
		return fmt.Errorf("systemd-nspawn exited: %s", lastLines(c.consoleText(), 20))
	case !found:
		return fmt.Errorf("systemd-nspawn (pid %d) started no container within %v", nspawn, bootTimeout)
	}
	return nil
}

// children lists the child processes of pid.
func children(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// waitRunning polls systemctl is-system-running until it says running or
// degraded, and returns that state.
func (c *Container) waitRunning() (string, error) {
	var state string
	ok := WaitFor(bootTimeout, 100*time.Millisecond, func() bool {
		if c.exited() {
			return true
		}
		out, _ := c.Run("systemctl", "is-system-running") // exits 1 while starting
		state = strings.TrimSpace(out)
		return state == "running" || state == "degraded"
	})
	switch {
	case c.exited():
		return "", fmt.Errorf("container %s: systemd-nspawn exited while booting", c.Name)
	case !ok:
		return "", fmt.Errorf("container %s: system is %q, not running, %v after boot", c.Name, state, bootTimeout)
	}
	return state, nil
}

// Command returns the command that runs the container's program name with
// args inside all of the container's namespaces (nsenter -t PID -a: its
// file system, pid, network, mount, IPC and UTS namespaces), bounded by ctx.
// The caller may set its stdin and outputs, and runs it.
func (c *Container) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return c.nsenter(ctx, "-a", name, args...)
}

func (c *Container) nsenter(ctx context.Context, scope, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.PID), scope, "--", name}, args...)...)
	cmd.WaitDelay = waitDelay
	return cmd
}

// Run runs the container's program name with args inside the container (see
// Command), to completion, with a timeout of 60 s, and returns its combined
// stdout and stderr. A non-zero exit is an error that includes the command
// and its output.
func (c *Container) Run(name string, args ...string) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	return combined(c.Command(ctx, name, args...))
}

// RunNet runs the host's program name with args in the container's network
// namespace only (nsenter -t PID -n): the host's ip, ping or any tool the
// container lacks, seeing the container's links, addresses and routes. It is
// otherwise Run.
func (c *Container) RunNet(name string, args ...string) (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	return combined(c.nsenter(ctx, "-n", name, args...))
}

// BusAddress returns the D-Bus address of the container's system bus as a
// host process reaches it: its socket through /proc/PID/root. A host process
// connects as root, which the bus's policy lets call systemd-resolved and
// systemd.
func (c *Container) BusAddress() string {
	return fmt.Sprintf("unix:path=/proc/%d/root/run/dbus/system_bus_socket", c.PID)
}

// Journal returns the journal of unit inside the container, message text
// only (journalctl -o cat), oldest first.
func (c *Container) Journal(unit string) (string, error) {
	return c.Run("journalctl", "--no-pager", "--quiet", "--output=cat", "--unit="+unit)
}

// Diagnostics returns the end of the boot messages, the failed units and the
// end of the whole journal, for a failing test to log. Errors are part of
// the text.
func (c *Container) Diagnostics() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# console of %s\n%s\n", c.Name, lastLines(c.consoleText(), 30))
	for _, args := range [][]string{{"systemctl", "--failed", "--no-legend"}, {"journalctl", "--no-pager", "--quiet", "-n", "60"}} {
		out, err := c.Run(args[0], args[1:]...)
		fmt.Fprintf(&b, "# %s\n%s\n", strings.Join(args, " "), out)
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
	}
	return b.String()
}

func (c *Container) consoleText() string {
	if c.console == nil {
		return ""
	}
	b, err := os.ReadFile(c.console.Name())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// exited reports whether systemd-nspawn has exited (and the container with it).
func (c *Container) exited() bool { return isClosed(c.done) }

// check returns ErrClosed after Close, and an error when the container has
// stopped by itself: its PID may belong to another process by now.
func (c *Container) check() error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case c.exited():
		return fmt.Errorf("container %s has stopped", c.Name)
	}
	return nil
}
