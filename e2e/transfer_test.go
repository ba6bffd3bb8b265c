package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// transferBytes is the size of each TCP transfer: large enough for many
// full TLS records, GSO super-packets and window growth.
const transferBytes = 64 << 20

const (
	sinkPort   = "5001"
	iperf3Port = "5201"
)

func TestTCPTransferFromLANToLANArrivesIntact(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, offload := range offloadModes {
		t.Run("offload "+offload, func(t *testing.T) {
			n := NewNet(t, Options{Offload: offload})
			n.StartBoth(t)
			t.Logf("offload %s: office-a's TUN offloads %q", offload, counters(t, n.A).Offload)
			for _, to := range []string{lab.HostB4, lab.HostB6} {
				n.WaitPing(t, n.Lab.LanA, to, 10*time.Second)
				transfer(t, n, to, offload)
			}
		})
	}
}

// transfer sends transferBytes from lanA to a sink on to in lanB and
// checks that the same bytes arrived.
func transfer(t *testing.T, n *Net, to, offload string) {
	t.Helper()
	addr := net.JoinHostPort(to, sinkPort)
	sink, sinkLog := startHelper(t, n, n.Lab.LanB, "sink", addr)
	txBefore := txBytes(t, n.A)
	name, args := helperCmd("source", addr, strconv.Itoa(transferBytes))
	out, err := n.Lab.Run(n.Lab.LanA, name, args...)
	if err != nil {
		t.Fatalf("send %d bytes to %s: %v", transferBytes, addr, err)
	}
	sent, err := parseTransfer(out)
	if err != nil {
		t.Fatal(err)
	}
	if !waitExit(sink, 20*time.Second) {
		t.Fatalf("sink on %s still running 20s after the source finished", addr)
	}
	got, err := parseTransfer(readFile(sinkLog))
	if err != nil {
		t.Fatal(err)
	}
	if sent.Bytes != transferBytes || got != (transferResult{Bytes: sent.Bytes, SHA256: sent.SHA256}) {
		t.Fatalf("to %s: sent %d bytes sha256 %s, received %d bytes sha256 %s",
			addr, sent.Bytes, sent.SHA256, got.Bytes, got.SHA256)
	}
	// The tunnel carried it: office-a sent at least the payload to office-b.
	if tx := txBytes(t, n.A) - txBefore; tx < transferBytes {
		t.Errorf("office-a sent %d bytes to office-b during the transfer of %d; want at least as many", tx, transferBytes)
	}
	t.Logf("offload %s: %d MiB to %s intact in %v: %.0f Mbit/s", offload, sent.Bytes>>20, addr,
		sent.Duration.Round(time.Millisecond), float64(sent.Bytes)*8/sent.Duration.Seconds()/1e6)
}

// waitExit waits up to d for p to exit and reports whether it did.
func waitExit(p *lab.Proc, d time.Duration) bool {
	return lab.WaitFor(d, 20*time.Millisecond, p.Exited)
}

func TestUDPFromLANToLANGetsThrough(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	n.WaitPing(t, n.Lab.LanA, lab.HostB4, 10*time.Second)
	server, err := n.Lab.Start(n.Lab.LanB, filepath.Join(n.Dir, "iperf3-server.log"), "iperf3", "-s", "-1", "-B", lab.HostB4, "-p", iperf3Port)
	if err != nil {
		t.Fatalf("start iperf3 server: %v", err)
	}
	t.Cleanup(func() { server.Stop(5 * time.Second) })
	waitListening(t, n, n.Lab.LanB, iperf3Port)
	out, err := n.Lab.Run(n.Lab.LanA, "iperf3", "-c", lab.HostB4, "-p", iperf3Port,
		"-u", "-b", "100M", "-t", "2", "-l", "1400", "--json")
	if err != nil {
		t.Fatalf("iperf3 client: %v", err)
	}
	sum, err := udpSummary(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("UDP 100 Mbit/s for 2s: %d of %d datagrams lost (%.2f%%), jitter %.3f ms",
		sum.Lost, sum.Packets, sum.LostPercent, sum.JitterMS)
	if received := sum.Packets - sum.Lost; received <= 0 || sum.LostPercent >= 5 {
		t.Errorf("UDP across the tunnel: %d of %d datagrams lost (%.2f%%); want some received and < 5%% lost",
			sum.Lost, sum.Packets, sum.LostPercent)
	}
}

// udpStats is the receiver's side of an iperf3 UDP test.
type udpStats struct {
	Packets     int64   `json:"packets"`
	Lost        int64   `json:"lost_packets"`
	LostPercent float64 `json:"lost_percent"`
	JitterMS    float64 `json:"jitter_ms"`
}

// udpSummary reads the receiver's figures from iperf3 --json client output
// ("sum_received" in iperf3 3.13 and later, "sum" before).
func udpSummary(out string) (udpStats, error) {
	var r struct {
		End struct {
			Sum         *udpStats `json:"sum"`
			SumReceived *udpStats `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return udpStats{}, fmt.Errorf("iperf3 --json output: %w\n%s", err, out)
	}
	switch {
	case r.Error != "":
		return udpStats{}, fmt.Errorf("iperf3: %s", r.Error)
	case r.End.SumReceived != nil:
		return *r.End.SumReceived, nil
	case r.End.Sum != nil:
		return *r.End.Sum, nil
	}
	return udpStats{}, fmt.Errorf("iperf3 --json output has no end.sum:\n%s", out)
}

// waitListening waits until something listens on TCP port in ns.
func waitListening(t *testing.T, n *Net, ns, port string) {
	t.Helper()
	ok := lab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool {
		out, err := n.Lab.Run(ns, "ss", "-Hltn", "sport", "=", ":"+port)
		return err == nil && strings.TrimSpace(out) != ""
	})
	if !ok {
		t.Fatalf("nothing listens on port %s in %s within 10s", port, ns)
	}
}

func TestPacketToNoPeerIsDroppedAndCounted(t *testing.T) {
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	const nobody = "100.64.0.77" // in the tunnel subnet, in no peer's allowed_ips
	const pings = 3
	before := noRouteDrops(t, n.A)
	if got := n.Ping(t, n.Lab.GwA, nobody, pings); got != 0 {
		t.Errorf("ping %s, owned by no peer: %d replies; want none", nobody, got)
	}
	var after uint64
	counted := lab.WaitFor(10*time.Second, 50*time.Millisecond, func() bool {
		after = noRouteDrops(t, n.A)
		return after >= before+pings
	})
	if !counted {
		t.Errorf("no_route_drops went from %d to %d after %d pings to %s; want at least +%d",
			before, after, pings, nobody, pings)
	}
	t.Logf("no_route_drops %d -> %d", before, after)
}
