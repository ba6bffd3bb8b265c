package netif_test

import (
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"net/netip"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/netif"
)

// quiet is how long a test listens for a change report that must not come:
// several times the watch's coalescing delay.
const quiet = 500 * time.Millisecond

// oneChange waits up to 10 s for a change report after what, then checks
// that no second one follows.
func oneChange(t *testing.T, w *netif.UnderlayWatch, what string) {
	t.Helper()
	select {
	case <-w.Changes():
	case <-time.After(10 * time.Second):
		t.Fatalf("no change reported within 10s after %s", what)
	}
	noChange(t, w, what+" (a second report)")
}

// noChange checks that no change report comes within quiet.
func noChange(t *testing.T, w *netif.UnderlayWatch, what string) {
	t.Helper()
	select {
	case <-w.Changes():
		t.Errorf("a change was reported after %s", what)
	case <-time.After(quiet):
	}
}

func TestUnderlayWatchReportsChangesOutsideTheTunnelOnce(t *testing.T) {
	testutil.CheckLeaks(t)
	clientLab(t)
	w, err := netif.WatchUnderlay(tunName, testutil.Logger(t))
	if err != nil {
		t.Fatalf("WatchUnderlay: %v", err)
	}
	defer w.Close()
	noChange(t, w, "starting the watch")

	steps := []struct {
		what string
		ip   []string
	}{
		{"an address added on the underlay", []string{"addr", "add", "198.18.0.10/24", "dev", lab.UnderlayDev}},
		{"a route added on the underlay", []string{"route", "add", handRoute.String(), "via", lab.UnderlayB}},
		{"the default route moved to another gateway", []string{"route", "replace", "default", "via", "198.18.0.3"}},
		{"a route removed from the underlay", []string{"route", "del", handRoute.String()}},
		{"an address removed from the underlay", []string{"addr", "del", "198.18.0.10/24", "dev", lab.UnderlayDev}},
	}
	for _, s := range steps {
		ipCmd(t, s.ip...)
		oneChange(t, w, s.what)
	}

	// The client's own lease (addresses and routes on the tunnel) and its
	// pin (on the underlay, but tlsvpn's): no redial for them.
	l := newClientLink(t, netip.MustParseAddr("198.18.0.2"), netif.LinkConfig{
		Addresses: []netip.Prefix{lease4, lease6},
		Routes:    []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), lan1v4},
	})
	noChange(t, w, "a lease put on the tunnel interface")
	ipCmd(t, "route", "add", handRoute.String(), "dev", tunName)
	noChange(t, w, "a route added by hand on the tunnel interface")
	if err := l.Close(); err != nil {
		t.Fatalf("close the client link: %v", err)
	}
	noChange(t, w, "the lease removed from the tunnel interface")

	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUnderlayWatchNeedsTheTunnelInterface(t *testing.T) {
	enterNetns(t)
	if w, err := netif.WatchUnderlay("tvnosuch0", nil); err == nil {
		w.Close()
		t.Fatal("WatchUnderlay watched for a missing interface")
	}
}
