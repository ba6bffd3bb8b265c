package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where "ip netns add" binds its named namespaces.
const netnsDir = "/run/netns"

// Do runs f on a thread switched into namespace ns, and waits for it. What f
// makes there (sockets, netlink subscriptions, devices) stays in ns after f
// returns; f must not start goroutines that expect to run in ns themselves.
func (t *Topology) Do(ns string, f func() error) error {
	if err := t.check(ns); err != nil {
		return err
	}
	return inNetns(ns, f)
}

// writeSysctl writes value to /proc/sys/KEY as seen from namespace ns:
// /proc/sys/net shows the network namespace of the calling thread.
func writeSysctl(ns, key, value string) error {
	return inNetns(ns, func() error {
		path := filepath.Join("/proc/sys", key)
		if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("write %s in %s: %w", path, ns, err)
		}
		return nil
	})
}

// inNetns runs f on a goroutine locked to its thread, which switches into
// ns and back. Should switching back fail, the goroutine exits still locked
// and the Go runtime retires the thread instead of reusing it.
func inNetns(ns string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := inNetnsLocked(ns, f)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// inNetnsLocked does inNetns's work on the locked calling thread and
// reports whether the thread is back in its own namespace.
func inNetnsLocked(ns string, f func() error) (restored bool, err error) {
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		return true, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	err = f()
	if rerr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return false, errors.Join(err, fmt.Errorf("leave namespace %s: %w", ns, rerr))
	}
	return true, err
}
