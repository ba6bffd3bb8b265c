package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// The series of docs/metrics.md. Label values are bounded: `peer` is a
// configured peer's name (or a connected client's identity), `reason` one
// of a fixed vocabulary, `issuer` a configured CA.
var (
	descPeerUp = prometheus.NewDesc("tlsvpn_peer_up",
		"1 when the peer is connected, else 0.", []string{"peer"}, nil)
	descPeerRxBytes = prometheus.NewDesc("tlsvpn_peer_rx_bytes_total",
		"Bytes of packets received from the peer (virtio header and IP packet).", []string{"peer"}, nil)
	descPeerTxBytes = prometheus.NewDesc("tlsvpn_peer_tx_bytes_total",
		"Bytes of packets sent to the peer (virtio header and IP packet).", []string{"peer"}, nil)
	descPeerRxPackets = prometheus.NewDesc("tlsvpn_peer_rx_packets_total",
		"Packets received from the peer.", []string{"peer"}, nil)
	descPeerTxPackets = prometheus.NewDesc("tlsvpn_peer_tx_packets_total",
		"Packets sent to the peer.", []string{"peer"}, nil)
	descPeerDrops = prometheus.NewDesc("tlsvpn_peer_drops_total",
		"Packets to or from the peer dropped, by reason (docs/logging.md).", []string{"peer", "reason"}, nil)
	descPeerRTT = prometheus.NewDesc("tlsvpn_peer_rtt_seconds",
		"Round trip of the last keepalive on the peer's connection.", []string{"peer"}, nil)
	descPeerCertExpiry = prometheus.NewDesc("tlsvpn_peer_cert_expiry_timestamp_seconds",
		"When the certificate the connected peer presented expires (Unix time).", []string{"peer"}, nil)
	descCertExpiry = prometheus.NewDesc("tlsvpn_cert_expiry_timestamp_seconds",
		"When this node's own certificate expires (Unix time).", nil, nil)
	descCRLNextUpdate = prometheus.NewDesc("tlsvpn_crl_next_update_timestamp_seconds",
		"When a CRL in force is due to be re-signed (Unix time); past it, new handshakes it covers are refused.", []string{"issuer"}, nil)
	descHandshakeFailures = prometheus.NewDesc("tlsvpn_handshake_failures_total",
		"Handshakes refused, by reason (docs/logging.md).", []string{"reason"}, nil)
	descRotations = prometheus.NewDesc("tlsvpn_rotations_total",
		"Connections replaced by a fresh one (rotation), by either side.", nil, nil)
	descNoRoute = prometheus.NewDesc("tlsvpn_no_route_drops_total",
		"Packets read from the interface whose destination is in no peer's allowed_ips.", nil, nil)
	descReloadOK = prometheus.NewDesc("tlsvpn_config_last_reload_successful",
		"0 when the last reload failed (the configuration in force was kept), else 1.", nil, nil)
	descBuild = prometheus.NewDesc("tlsvpn_build_info",
		"Always 1; the version of the running binary.", []string{"version"}, nil)
)

// nodeCollector is a prometheus.Collector that reads the node's status
// at scrape time: the packet path gains no work, and a peer or client
// that is gone is gone from the next scrape.
type nodeCollector struct {
	snapshot func() status.Node        // node.snapshot
	creds    func() *trust.Credentials // the credentials in force
}

// Describe sends every series' description.
func (nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeerUp, descPeerRxBytes, descPeerTxBytes, descPeerRxPackets,
		descPeerTxPackets, descPeerDrops, descPeerRTT, descPeerCertExpiry, descCertExpiry, descCRLNextUpdate,
		descHandshakeFailures, descRotations, descNoRoute, descReloadOK, descBuild} {
		ch <- d
	}
}

// Collect sends the series of one status snapshot.
func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	reasons := tunnel.DropReasons()
	for _, p := range s.Tunnel.Peers {
		up := 0.0
		if p.Since != nil {
			up = 1
		}
		collectPeer(ch, p, up, reasons)
	}
	for r, v := range s.HandshakeFailures {
		ch <- prometheus.MustNewConstMetric(descHandshakeFailures, prometheus.CounterValue, float64(v), r)
	}
	ch <- prometheus.MustNewConstMetric(descRotations, prometheus.CounterValue, float64(s.Tunnel.Rotations))
	ch <- prometheus.MustNewConstMetric(descNoRoute, prometheus.CounterValue, float64(s.Tunnel.NoRouteDrops))
	ok := 1.0
	if s.ReloadErr != "" {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(descReloadOK, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, version)
	creds := c.creds()
	ch <- prometheus.MustNewConstMetric(descCertExpiry, prometheus.GaugeValue, unixSeconds(creds.Certificate().Leaf.NotAfter))
	for _, crl := range creds.CRLs() {
		if !crl.NextUpdate.IsZero() {
			ch <- prometheus.MustNewConstMetric(descCRLNextUpdate, prometheus.GaugeValue, unixSeconds(crl.NextUpdate), crl.Issuer.String())
		}
	}
}

// collectPeer sends one peer's series; reasons are every drop reason, so
// a drop counter exists (at zero) before its first drop.
func collectPeer(ch chan<- prometheus.Metric, p tunnel.PeerStatus, up float64, reasons []string) {
	name := p.Name
	ch <- prometheus.MustNewConstMetric(descPeerUp, prometheus.GaugeValue, up, name)
	ch <- prometheus.MustNewConstMetric(descPeerRxBytes, prometheus.CounterValue, float64(p.RxBytes), name)
	ch <- prometheus.MustNewConstMetric(descPeerTxBytes, prometheus.CounterValue, float64(p.TxBytes), name)
	ch <- prometheus.MustNewConstMetric(descPeerRxPackets, prometheus.CounterValue, float64(p.RxPackets), name)
	ch <- prometheus.MustNewConstMetric(descPeerTxPackets, prometheus.CounterValue, float64(p.TxPackets), name)
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(descPeerDrops, prometheus.CounterValue, float64(p.Drops[r]), name, r)
	}
	if rtt, err := time.ParseDuration(p.RTT); err == nil && up == 1 {
		ch <- prometheus.MustNewConstMetric(descPeerRTT, prometheus.GaugeValue, rtt.Seconds(), name)
	}
	if p.NotAfter != nil && up == 1 {
		ch <- prometheus.MustNewConstMetric(descPeerCertExpiry, prometheus.GaugeValue, unixSeconds(*p.NotAfter), name)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
