package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// TestStatusTableSaysTheMode: a node in TAP mode shows its bridge, the
// MACs learned on the interface and behind each peer, and no allowed IPs
// or TUN offloads; a TUN node shows those as before.
func TestStatusTableSaysTheMode(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	peer := tunnel.PeerStatus{Name: "site-b", State: "connected", AllowedIPs: []string{"10.2.0.0/24"},
		MACs: []string{"02:00:00:00:0b:01", "02:00:00:00:0b:02"}}
	for _, tc := range []struct {
		name      string
		s         status.Node
		want, not []string
	}{
		{"a TAP node on a bridge", status.Node{Node: "site-a", Interface: "tlsvpn0", Mode: "tap", Bridge: "br0", Started: now,
			Tunnel: tunnel.Status{LocalMACs: 3, DeviceDrops: map[string]uint64{"mac_invalid": 1}, Peers: []tunnel.PeerStatus{peer}}},
			[]string{"interface tlsvpn0 (tap, bridge br0)", "MACs learned on the interface: 3; frames from it dropped: mac_invalid 1",
				"MACs learned behind it: 2"},
			[]string{"allowed ips", "tun offload"}},
		{"a TUN node", status.Node{Node: "site-a", Interface: "tlsvpn0", Mode: "tun", Started: now,
			Tunnel: tunnel.Status{Offload: []string{"tcpv4"}, Peers: []tunnel.PeerStatus{peer}}},
			[]string{"interface tlsvpn0, up", "tun offload: tcpv4", "allowed ips 10.2.0.0/24"},
			[]string{"MACs", "tap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			printStatus(&b, &tc.s, now)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("status lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tc.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("status shows %q:\n%s", n, b.String())
				}
			}
		})
	}
}
