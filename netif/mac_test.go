package netif_test

import (
	"bytes"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/netif"
)

func TestStableMACIsALocallyAdministeredUnicastAddressFixedByTheNames(t *testing.T) {
	a := netif.StableMAC("office-a", "tlsvpn0")
	if !bytes.Equal(a, netif.StableMAC("office-a", "tlsvpn0")) {
		t.Error("StableMAC differs between two calls with the same names")
	}
	// Fixed here (computed outside Go, with Python's hashlib) so that a
	// change of the derivation, which would change every deployed node's
	// MAC, cannot pass unnoticed.
	if got, want := a.String(), "ce:d7:d0:8c:f0:6f"; got != want {
		t.Errorf("StableMAC(office-a, tlsvpn0) = %s, want %s", got, want)
	}
	seen := map[string]string{}
	for _, names := range [][2]string{{"office-a", "tlsvpn0"}, {"office-b", "tlsvpn0"}, {"office-a", "tlsvpn1"},
		{"office-at", "lsvpn0"}, {"", ""}} {
		mac := netif.StableMAC(names[0], names[1])
		m := l2.MAC(mac)
		if len(mac) != 6 || !m.IsLocal() || m.IsGroup() {
			t.Errorf("StableMAC(%q, %q) = %v: not a locally administered unicast address", names[0], names[1], mac)
		}
		if other, dup := seen[mac.String()]; dup {
			t.Errorf("StableMAC(%q, %q) = %v, the same as for %s", names[0], names[1], mac, other)
		}
		seen[mac.String()] = names[0] + "/" + names[1]
	}
}
