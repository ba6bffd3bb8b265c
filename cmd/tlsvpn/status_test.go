package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// hubStatus is a node with peers in every kind of state, listed out of
// order.
func hubStatus(now time.Time) *status.Node {
	since, retry, notAfter := now.Add(-3*time.Hour-2*time.Minute), now.Add(1200*time.Millisecond), now.Add(300*24*time.Hour)
	connected := func(name, remote string, rx, tx uint64) tunnel.PeerStatus {
		return tunnel.PeerStatus{Name: name, State: "connected", Remote: remote, Since: &since, RTT: "312µs",
			TLSVersion: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Group: "X25519MLKEM768", Serial: "5f3a", NotAfter: &notAfter,
			RxBytes: rx, TxBytes: tx, RxPackets: 10, TxPackets: 20, Drops: map[string]uint64{"aqm": 3, "source_not_allowed": 2}}
	}
	return &status.Node{
		Node: "hq", PID: 4242, Interface: "tlsvpn0", Started: now.Add(-26 * time.Hour), Listen: "0.0.0.0:4433",
		HandshakeFailures: map[string]uint64{"revoked": 2, "expired": 0},
		Tunnel: tunnel.Status{Offload: []string{"tcpv4"}, Rotations: 7, Peers: []tunnel.PeerStatus{
			connected("office-c", "198.18.0.3:50122", 5<<30, 1<<20),
			{Name: "office-b", State: "waiting to redial", Endpoint: "198.18.0.2:4433", NextRetry: &retry,
				LastError: "dial 198.18.0.2:4433: connect: connection refused", Drops: map[string]uint64{}},
			connected("branch-1", "198.18.0.9:41000", 1234, 99),
			{Name: "office-d", State: "waiting for the peer to dial in", Drops: map[string]uint64{}},
		}},
	}
}

func TestStatusIsOneLinePerPeerSortedWithDetailOnlyForTheBroken(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	printStatus(&b, hubStatus(now), now)
	out := b.String()
	t.Logf("\n%s", out)
	lines := strings.Split(out, "\n")
	header := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "NAME ") {
			header = i
		}
	}
	if header < 0 {
		t.Fatalf("no table header")
	}
	if !strings.Contains(lines[0], "node hq (pid 4242)") || !strings.Contains(lines[0], "up 26h00m; 2/4 peers up") {
		t.Errorf("first line %q lacks the node or its peer count", lines[0])
	}
	if !strings.Contains(out, "handshakes refused: revoked 2\n") {
		t.Errorf("refused handshakes not summed up by reason (without the zeros)")
	}
	// Every cell starts where its column's header does.
	var cols []int
	for _, h := range tableHeader {
		cols = append(cols, strings.Index(lines[header], h))
	}
	want := []struct {
		cells []string
		note  string
	}{
		{[]string{"branch-1", "connected", "198.18.0.9:41000", "1.2 KiB", "99 B", "312µs", "5", "3h02m"}, ""},
		{[]string{"office-b", "waiting to redial", "-", "0 B", "0 B", "-", "0", "-"},
			"endpoint 198.18.0.2:4433; last error: dial 198.18.0.2:4433: connect: connection refused; next retry in 1.2s"},
		{[]string{"office-c", "connected", "198.18.0.3:50122", "5.0 GiB", "1.0 MiB", "312µs", "5", "3h02m"}, ""},
		{[]string{"office-d", "waiting for the peer to dial in", "-", "0 B", "0 B", "-", "0", "-"}, ""},
	}
	i := header + 1
	for _, w := range want {
		if i >= len(lines) {
			t.Fatalf("the table ends before peer %s", w.cells[0])
		}
		line := []rune(lines[i])
		for j, cell := range w.cells {
			if cols[j] > len(line) || !strings.HasPrefix(string(line[cols[j]:]), cell+" ") && string(line[cols[j]:]) != cell {
				t.Errorf("line %q: column %s does not start with %q", lines[i], tableHeader[j], cell)
			}
		}
		i++
		if w.note != "" {
			if strings.TrimSpace(lines[i]) != w.note {
				t.Errorf("line under %s: %q, want %q", w.cells[0], lines[i], w.note)
			}
			i++
		}
	}
	if strings.TrimSpace(lines[i]) != "" {
		t.Errorf("line %q after the last peer, want the table's end", lines[i])
	}
	if !strings.Contains(out, "connections with TLS 1.3, TLS_AES_128_GCM_SHA256, key exchange X25519MLKEM768: 2") {
		t.Errorf("the TLS parameters of the connections are not summed up")
	}
}

func TestStatusShowsANamedPeerInFull(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	if err := printPeers(&b, hubStatus(now), []string{"office-c"}, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"peer office-c: connected", "certificate serial 5f3a", "TLS 1.3, TLS_AES_128_GCM_SHA256, key exchange X25519MLKEM768",
		"received 5.0 GiB in 10 packets", "drops: aqm 3, source_not_allowed 2"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("detail lacks %q:\n%s", want, b.String())
		}
	}
	if err := printPeers(&b, hubStatus(now), []string{"office-x"}, now); err == nil || !strings.Contains(err.Error(), `"office-x"`) {
		t.Errorf("an unknown peer: %v, want an error naming it", err)
	}
}

func TestAgeKeepsTwoUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 12*time.Minute + 5*time.Second: "12m05s", 5*time.Hour + 2*time.Minute: "5h02m",
		76 * time.Hour: "3d04h", -time.Second: "0s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStatusTableSaysTheMode: a node in TAP mode shows its bridge, the
// MACs learned on the interface and a MACS column counting those behind
// each peer, and no TUN offloads; a TUN node shows its offloads and no
// MACs.
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
				"MACS"},
			[]string{"tun offload"}},
		{"a TUN node", status.Node{Node: "site-a", Interface: "tlsvpn0", Mode: "tun", Started: now,
			Tunnel: tunnel.Status{Offload: []string{"tcpv4"}, Peers: []tunnel.PeerStatus{peer}}},
			[]string{"interface tlsvpn0, up", "tun offload: tcpv4"},
			[]string{"MACS", "MACs", "tap"}},
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
