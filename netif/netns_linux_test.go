package netif_test

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

var nsCounter atomic.Int32

// enterNetns moves the test's goroutine, locked to its OS thread for good,
// into a new named network namespace, and deletes the namespace in
// Cleanup. Everything that creates a socket or a device, or talks netlink,
// must then run on the test's own goroutine; file descriptors made here
// keep their namespace on any goroutine. The thread is never unlocked, so
// Go ends it with the goroutine and never reuses it elsewhere.
func enterNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and a TUN device")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("get current network namespace: %v", err)
	}
	name := fmt.Sprintf("tv%d%d-netif", os.Getpid(), nsCounter.Add(1))
	ns, err := netns.NewNamed(name)
	if err != nil {
		orig.Close()
		t.Fatalf("create network namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		returnTo(t, orig)
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	return name
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// joinNetns moves the test's goroutine, locked to its OS thread for good,
// into the existing named namespace ns (one of a lab topology's), and back
// in Cleanup, which runs before the topology's own. What enterNetns says
// about goroutines holds here too.
func joinNetns(t *testing.T, ns string) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("get current network namespace: %v", err)
	}
	target, err := netns.GetFromName(ns)
	if err != nil {
		orig.Close()
		t.Fatalf("open network namespace %s: %v", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		orig.Close()
		t.Fatalf("enter network namespace %s: %v", ns, err)
	}
	t.Cleanup(func() { returnTo(t, orig) })
}

// returnTo moves the test's thread back to namespace orig and closes it.
func returnTo(t *testing.T, orig netns.NsHandle) {
	if err := netns.Set(orig); err != nil {
		t.Errorf("return to the original network namespace: %v", err)
	}
	orig.Close()
}
