package netif_test

import (
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// enterNetns moves the test into a namespace of its own (lab.EnterNetns).
func enterNetns(t *testing.T) string { return lab.EnterNetns(t, "netif") }

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
