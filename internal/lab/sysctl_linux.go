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

// writeSysctl writes value to /proc/sys/KEY as seen from namespace ns.
//
// /proc/sys/net shows the network namespace of the calling thread, so the
// write runs on a goroutine locked to its thread, which switches into ns and
// back. Should switching back fail, the goroutine exits still locked and the
// Go runtime retires the thread instead of reusing it.
func writeSysctl(ns, key, value string) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := writeSysctlIn(ns, key, value)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// writeSysctlIn does writeSysctl's work on the locked calling thread and
// reports whether the thread is back in its own namespace.
func writeSysctlIn(ns, key, value string) (restored bool, err error) {
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
	path := filepath.Join("/proc/sys", key)
	err = os.WriteFile(path, []byte(value), 0o644)
	if err != nil {
		err = fmt.Errorf("write %s in %s: %w", path, ns, err)
	}
	if rerr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); rerr != nil {
		return false, errors.Join(err, fmt.Errorf("leave namespace %s: %w", ns, rerr))
	}
	return true, err
}
