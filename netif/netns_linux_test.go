package netif_test

import (
	"runtime"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// enterNetns moves the test into a namespace of its own (lab.EnterNetns).
func enterNetns(t *testing.T) string { return lab.EnterNetns(t, "netif") }

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
