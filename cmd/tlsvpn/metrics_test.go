package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// testCollector reads st, with an own certificate expiring on notAfter
// and a CRL due on nextUpdate.
func testCollector(t *testing.T, st *status.Node, notAfter, nextUpdate time.Time) nodeCollector {
	f := certtest.New(t, time.Now())
	creds := f.Credentials(f.Leaf(certtest.LeafOpts{Names: []string{"hq"}, NotAfter: notAfter}),
		f.CRL(nil, time.Now().Add(-time.Hour), nextUpdate, nil))
	return nodeCollector{snapshot: func() status.Node { return *st }, creds: func() *trust.Credentials { return creds }}
}

func TestMetricsFollowTheStatus(t *testing.T) {
	now := time.Now()
	notAfter, nextUpdate := time.Unix(1900000000, 0), time.Unix(1800000000, 0)
	st := hubStatus(now)
	c := testCollector(t, st, notAfter, nextUpdate)

	want := `# HELP tlsvpn_peer_up 1 when the peer is connected, else 0.
# TYPE tlsvpn_peer_up gauge
tlsvpn_peer_up{peer="branch-1"} 1
tlsvpn_peer_up{peer="office-b"} 0
tlsvpn_peer_up{peer="office-c"} 1
tlsvpn_peer_up{peer="office-d"} 0
# HELP tlsvpn_peer_rx_bytes_total Bytes of packets received from the peer (virtio header and IP packet).
# TYPE tlsvpn_peer_rx_bytes_total counter
tlsvpn_peer_rx_bytes_total{peer="branch-1"} 1234
tlsvpn_peer_rx_bytes_total{peer="office-b"} 0
tlsvpn_peer_rx_bytes_total{peer="office-c"} 5.36870912e+09
tlsvpn_peer_rx_bytes_total{peer="office-d"} 0
# HELP tlsvpn_peer_rtt_seconds Round trip of the last keepalive on the peer's connection.
# TYPE tlsvpn_peer_rtt_seconds gauge
tlsvpn_peer_rtt_seconds{peer="branch-1"} 0.000312
tlsvpn_peer_rtt_seconds{peer="office-c"} 0.000312
# HELP tlsvpn_cert_expiry_timestamp_seconds When this node's own certificate expires (Unix time).
# TYPE tlsvpn_cert_expiry_timestamp_seconds gauge
tlsvpn_cert_expiry_timestamp_seconds 1.9e+09
# HELP tlsvpn_rotations_total Connections replaced by a fresh one (rotation), by either side.
# TYPE tlsvpn_rotations_total counter
tlsvpn_rotations_total 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "tlsvpn_peer_up", "tlsvpn_peer_rx_bytes_total",
		"tlsvpn_peer_rtt_seconds", "tlsvpn_cert_expiry_timestamp_seconds", "tlsvpn_rotations_total"); err != nil {
		t.Error(err)
	}
	for name, n := range map[string]int{
		"tlsvpn_peer_drops_total":                   4 * len(tunnel.DropReasons()), // every reason of every peer, zeros too
		"tlsvpn_handshake_failures_total":           len(st.HandshakeFailures),
		"tlsvpn_peer_cert_expiry_timestamp_seconds": 2, // the connected peers only
		"tlsvpn_crl_next_update_timestamp_seconds":  1,
	} {
		if got := testutil.CollectAndCount(c, name); got != n {
			t.Errorf("%d series of %s, want %d", got, name, n)
		}
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}

	// A peer that goes is gone from the next scrape.
	st.Tunnel.Peers = st.Tunnel.Peers[:1]
	if got := testutil.CollectAndCount(c, "tlsvpn_peer_up"); got != 1 {
		t.Errorf("%d tlsvpn_peer_up series after three peers left, want 1", got)
	}
}

func TestMetricsServerServesAndStops(t *testing.T) {
	now := time.Now()
	m, err := listenMetrics(&config.Config{Path: "/etc/tlsvpn/hq.toml", Metrics: &config.Metrics{Listen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.serve(testCollector(t, hubStatus(now), now.Add(time.Hour), now.Add(time.Hour)), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		m.close()
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s", m.ln.Addr())
	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	for _, want := range []string{`tlsvpn_peer_up{peer="office-c"} 1`, "go_goroutines ", "process_resident_memory_bytes ", `tlsvpn_build_info{version="`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET /metrics: %d, body lacks %q", code, want)
		}
	}
	if code, _ := get("/"); code != http.StatusNotFound {
		t.Errorf("GET /: %d, want 404", code)
	}
	m.close()
	if _, err := http.Get(url + "/metrics"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after close: %v, want connection refused", err)
	}
}

func TestAMetricsAddressInUseFailsTheStartByName(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, err = listenMetrics(&config.Config{Path: "/etc/tlsvpn/hq.toml", Metrics: &config.Metrics{Listen: addr}})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "metrics.listen in /etc/tlsvpn/hq.toml") {
		t.Fatalf("error %v, want one naming %s, the key and the file", err, addr)
	}
}

// TestMetricsDocAndDashboardKnowEverySeries: docs/metrics.md lists every
// series the node describes, and the example dashboard asks for none that
// the docs do not list.
func TestMetricsDocAndDashboardKnowEverySeries(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	doc, dashboard := read("../../docs/metrics.md"), read("../../examples/grafana-dashboard.json")
	descs := make(chan *prometheus.Desc, 64)
	nodeCollector{}.Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		if !strings.Contains(doc, "| `"+m[1]+"` |") {
			t.Errorf("series %s is not in docs/metrics.md's table", m[1])
		}
	}
	for _, name := range regexp.MustCompile(`tlsvpn_[a-z_]+`).FindAllString(dashboard, -1) {
		if !strings.Contains(doc, "| `"+name+"` |") {
			t.Errorf("the dashboard asks for %s, which docs/metrics.md does not list", name)
		}
	}
}
