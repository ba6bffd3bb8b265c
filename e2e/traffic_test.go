package e2e

import (
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

func TestPingBothWaysBetweenLANs(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, offload := range offloadModes {
		t.Run("offload "+offload, func(t *testing.T) {
			n := NewNet(t, Options{Offload: offload})
			n.StartBoth(t)
			for _, c := range []struct{ from, to string }{
				{n.Lab.LanA, lab.HostB4}, {n.Lab.LanB, lab.HostA4},
				{n.Lab.LanA, lab.HostB6}, {n.Lab.LanB, lab.HostA6},
				{n.Lab.GwA, "100.64.0.2"}, {n.Lab.GwB, "fd64::1"},
			} {
				if got := n.Ping(t, c.from, c.to, 5); got != 5 {
					t.Errorf("ping %s from %s: %d of 5 replies", c.to, c.from, got)
				}
			}
		})
	}
}
