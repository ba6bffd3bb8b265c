package lab

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// EnterNetns moves the calling test goroutine, locked to its OS thread for
// good, into a new named network namespace of its own ("tv<pid>x<n>-" +
// tag) and deletes the namespace in Cleanup. Everything that creates a
// socket or a device, talks netlink or writes /proc/sys/net must then run
// on the test's own goroutine; file descriptors made there keep their
// namespace on any goroutine. The thread is never unlocked, so Go ends it
// with the goroutine and never reuses it elsewhere. Not root, it skips the
// test. It returns the namespace's name, for `ip -n`.
func EnterNetns(tb testing.TB, tag string) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates a network namespace")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		tb.Fatalf("get current network namespace: %v", err)
	}
	name := nextPrefix() + "-" + tag
	ns, err := netns.NewNamed(name)
	if err != nil {
		orig.Close()
		tb.Fatalf("create network namespace %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			tb.Errorf("return to the original network namespace: %v", err)
		}
		orig.Close()
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	return name
}

// SetSysctl writes value to /proc/sys/key in the network namespace of the
// calling thread (for a test inside EnterNetns: its own namespace).
func SetSysctl(tb testing.TB, key, value string) {
	tb.Helper()
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
		tb.Fatalf("set %s to %s: %v", key, value, err)
	}
}
