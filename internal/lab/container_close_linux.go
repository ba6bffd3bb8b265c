package lab

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Close powers the container off and removes what Boot made. It sends
// SIGTERM to systemd-nspawn, which asks the container's systemd for an
// orderly poweroff, and waits up to 60 s for nspawn to exit; a container that
// takes longer is killed, and Close reports it. Then it waits until no
// process is left in the container's cgroup or pid namespace (killing any
// that are) and removes the cgroup. The overlay, its tmpfs and the
// container's network namespace, with the veth ends in it, vanish with the
// container's processes. Close is idempotent: later calls return the first
// call's result.
func (c *Container) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.closeErr
	}
	c.closed = true
	var errs []error
	if c.nspawn != nil && c.nspawn.Process != nil {
		errs = append(errs, c.poweroff())
	}
	if c.cg != nil {
		errs = append(errs, c.reap(), c.cg.remove())
	}
	if c.console != nil {
		c.console.Close()
	}
	if c.pidNS != nil {
		c.pidNS.Close()
	}
	if err := errors.Join(errs...); err != nil {
		c.closeErr = fmt.Errorf("close container %s: %w", c.Name, err)
	}
	return c.closeErr
}

// poweroff stops systemd-nspawn, gently first.
func (c *Container) poweroff() error {
	if c.exited() {
		return nil
	}
	if err := c.nspawn.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("power off: %w", err)
	}
	if c.waitExit(poweroffTimeout) {
		return nil
	}
	c.kill()
	if !c.waitExit(killTimeout) {
		return fmt.Errorf("systemd-nspawn (pid %d) not reaped %v after SIGKILL", c.nspawn.Process.Pid, killTimeout)
	}
	return fmt.Errorf("did not power off within %v; killed it", poweroffTimeout)
}

func (c *Container) waitExit(d time.Duration) bool { return waitClosed(c.done, d) }

// kill sends SIGKILL to the cgroup, to every process in the container's pid
// namespace (the kernel would kill them with its PID 1, but a Run may have
// entered it later) and to nspawn.
func (c *Container) kill() {
	_ = c.cg.kill()
	for _, pid := range c.inPidNS() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = c.nspawn.Process.Signal(syscall.SIGKILL)
}

// reap waits until no process is left in the container's cgroup or pid
// namespace, killing them after a while.
func (c *Container) reap() error {
	var left []int
	gone := func() bool {
		left = c.leftovers()
		return len(left) == 0
	}
	if WaitFor(killTimeout, 20*time.Millisecond, gone) {
		return nil
	}
	c.kill()
	if WaitFor(killTimeout, 20*time.Millisecond, gone) {
		return fmt.Errorf("processes %v were still there after poweroff; killed them", left)
	}
	return fmt.Errorf("processes %v still there after SIGKILL", left)
}

// leftovers lists the processes in the container's cgroup or pid namespace.
func (c *Container) leftovers() []int {
	pids, _ := c.cg.pids() // a missing cgroup has no processes
	pids = append(pids, c.inPidNS()...)
	slices.Sort(pids)
	return slices.Compact(pids)
}

// inPidNS lists the host's processes in the container's pid namespace.
// Zombies are not listed: they have left their namespaces. The namespace is
// known by its inode, which cannot go to a new namespace while c.pidNS
// holds it open.
func (c *Container) inPidNS() []int {
	if c.pidNS == nil {
		return nil
	}
	want, err := heldNSID(c.pidNS)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if id, err := nsID("/proc/" + e.Name() + "/ns/pid"); err == nil && id == want {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nsID identifies the namespace behind the link path (/proc/PID/ns/KIND).
func nsID(path string) (uint64, error) { return inode(os.Stat(path)) }

// heldNSID identifies the namespace f holds open.
func heldNSID(f *os.File) (uint64, error) { return inode(f.Stat()) }

func inode(fi os.FileInfo, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode", fi.Name())
	}
	return st.Ino, nil
}
