package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/internal/control"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

func newStatusCmd() *cobra.Command {
	var path string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status -c FILE [--json] [PEER...]",
		Short: "Show the running node's peers and traffic",
		Long: `status asks the node running FILE over its control socket. It prints the node,
then one line per peer, sorted by name: state, remote address, bytes received and
sent, keepalive round trip, drops and how long it has been connected; a peer that
is not connected gets a second line with its endpoint, last error and next retry.
Named PEERs are shown in full: endpoint, allowed IPs, certificate, TLS
parameters, packets, drops by reason. --json prints everything as a versioned
object (docs/status.md).`,
		Example: "  tlsvpn status -c /etc/tlsvpn/office-a.toml\n  tlsvpn status -c /etc/tlsvpn/office-a.toml office-b\n" +
			"  tlsvpn status -c /etc/tlsvpn/office-a.toml --json | jq .tunnel.peers",
		RunE: func(c *cobra.Command, names []string) error {
			if asJSON && len(names) > 0 {
				return usageError{fmt.Errorf("--json prints every peer; leave out the names %s", strings.Join(names, " "))}
			}
			raw, err := askNode(path, control.RequestStatus)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintf(c.OutOrStdout(), "%s\n", raw)
				return err
			}
			var s status.Node
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode status: %w", err)
			}
			if len(names) > 0 {
				return printPeers(c.OutOrStdout(), &s, names, time.Now())
			}
			printStatus(c.OutOrStdout(), &s, time.Now())
			return nil
		},
	}
	configFlag(c, &path)
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}

// printStatus prints the node's summary and its table of peers.
func printStatus(w io.Writer, s *status.Node, now time.Time) {
	printNode(w, s, now)
	fmt.Fprintln(w)
	printTable(w, peerHeader(s), peerRows(s, now))
	if tls := tlsSummary(s.Tunnel.Peers); tls != "" {
		fmt.Fprintf(w, "\n%s\n", tls)
	}
}

// printNode prints the lines about the node itself.
func printNode(w io.Writer, s *status.Node, now time.Time) {
	up := 0
	for _, p := range s.Tunnel.Peers {
		if p.Since != nil {
			up++
		}
	}
	fmt.Fprintf(w, "node %s (pid %d), interface %s%s, up %s; %d/%d peers up\n", s.Node, s.PID, s.Interface,
		modeText(s), age(now.Sub(s.Started)), up, len(s.Tunnel.Peers))
	if s.Listen != "" {
		fmt.Fprintf(w, "  listening on %s\n", s.Listen)
	}
	if s.ReloadErr != "" {
		fmt.Fprintf(w, "  LAST RELOAD FAILED (configuration in force kept): %s\n", s.ReloadErr)
	}
	if s.Mode == modeTAP {
		fmt.Fprintf(w, "  MACs learned on the interface: %d; frames from it dropped: %s; rotations: %d\n",
			s.Tunnel.LocalMACs, counts(s.Tunnel.DeviceDrops), s.Tunnel.Rotations)
	} else {
		fmt.Fprintf(w, "  tun offload: %s; packets to no peer dropped: %d; rotations: %d\n",
			orNone(strings.Join(s.Tunnel.Offload, ",")), s.Tunnel.NoRouteDrops, s.Tunnel.Rotations)
	}
	if refused := counts(s.HandshakeFailures); refused != "none" {
		fmt.Fprintf(w, "  handshakes refused: %s\n", refused)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", warn)
	}
}

// row is one line of the peer table, and the line under it (for a peer
// that is not connected: why, and what comes next).
type row struct {
	cells []string
	note  string
}

var tableHeader = []string{"NAME", "STATE", "REMOTE", "RX", "TX", "RTT", "DROPS", "SINCE", "CERT", "EXPIRES"}

// peerHeader is the table's header: tableHeader, and MACS in TAP mode.
func peerHeader(s *status.Node) []string {
	if s.Mode == modeTAP {
		return append(slices.Clone(tableHeader), "MACS")
	}
	return tableHeader
}

// peerRows makes the table's rows, sorted by name; in TAP mode each row
// ends with the count of MACs learned behind the peer.
func peerRows(s *status.Node, now time.Time) []row {
	peers := slices.Clone(s.Tunnel.Peers)
	slices.SortFunc(peers, func(a, b tunnel.PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	rows := make([]row, 0, len(peers))
	for _, p := range peers {
		r := row{cells: []string{p.Name, p.State, dash(p.Remote), bytesIEC(p.RxBytes), bytesIEC(p.TxBytes),
			dash(p.RTT), fmt.Sprint(total(p.Drops)), "-", dash(p.Serial), "-"}}
		if p.Since != nil {
			r.cells[7] = age(now.Sub(*p.Since))
		} else {
			r.note = notConnected(p, now)
		}
		if p.NotAfter != nil {
			r.cells[9] = p.NotAfter.UTC().Format(time.DateOnly)
			if p.ExpiresSoon {
				r.cells[9] += " (SOON)"
			}
		}
		if s.Mode == modeTAP {
			r.cells = append(r.cells, fmt.Sprint(len(p.MACs)))
		}
		rows = append(rows, r)
	}
	return rows
}

// modeTAP is status's mode of a node in TAP mode.
var modeTAP = netif.KindTAP.String()

// modeText says, after the interface name, that it is a TAP and which
// bridge it is a port of; nothing for a TUN.
func modeText(s *status.Node) string {
	switch {
	case s.Mode != modeTAP:
		return ""
	case s.Bridge != "":
		return " (tap, bridge " + s.Bridge + ")"
	}
	return " (tap)"
}

// notConnected says of a peer that is not connected where it dials, what
// went wrong last and when it tries again.
func notConnected(p tunnel.PeerStatus, now time.Time) string {
	var parts []string
	if p.Endpoint != "" {
		parts = append(parts, "endpoint "+p.Endpoint)
	}
	if p.LastError != "" {
		parts = append(parts, "last error: "+p.LastError)
	}
	if p.NextRetry != nil {
		parts = append(parts, "next retry in "+max(p.NextRetry.Sub(now), 0).Round(time.Millisecond).String())
	}
	return strings.Join(parts, "; ")
}

// printTable prints rows under tableHeader, each column as wide as its
// widest cell; a row's note goes on a line of its own under it.
func printTable(w io.Writer, header []string, rows []row) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no peers configured")
		return
	}
	width := make([]int, len(header))
	for _, cells := range append([][]string{header}, cellsOf(rows)...) {
		for i, c := range cells {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(header)
	for _, r := range rows {
		line(r.cells)
		if r.note != "" {
			fmt.Fprintf(w, "  %s\n", r.note)
		}
	}
}

func cellsOf(rows []row) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r.cells
	}
	return out
}

// tlsSummary counts the connections by their TLS parameters: one line per
// combination, however many peers share it.
func tlsSummary(peers []tunnel.PeerStatus) string {
	n := map[string]int{}
	for _, p := range peers {
		if p.Since != nil {
			n[fmt.Sprintf("%s, %s, key exchange %s", p.TLSVersion, p.Cipher, p.Group)]++
		}
	}
	var lines []string
	for params, count := range n {
		lines = append(lines, fmt.Sprintf("connections with %s: %d", params, count))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// printPeers prints the named peers in full, in the order named.
func printPeers(w io.Writer, s *status.Node, names []string, now time.Time) error {
	for i, name := range names {
		j := slices.IndexFunc(s.Tunnel.Peers, func(p tunnel.PeerStatus) bool { return p.Name == name })
		if j < 0 {
			return fmt.Errorf("node %s has no peer called %q", s.Node, name)
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		printPeer(w, s.Tunnel.Peers[j], s.Mode == modeTAP, now)
	}
	return nil
}

// printPeer prints everything status knows of one peer.
func printPeer(w io.Writer, p tunnel.PeerStatus, tap bool, now time.Time) {
	fmt.Fprintf(w, "peer %s: %s\n", p.Name, p.State)
	if p.Endpoint != "" || p.Remote != "" {
		fmt.Fprintf(w, "  endpoint %s, remote %s\n", orNone(p.Endpoint), orNone(p.Remote))
	}
	if tap {
		fmt.Fprintf(w, "  MACs learned behind it: %d\n", len(p.MACs))
	} else {
		fmt.Fprintf(w, "  allowed ips %s\n", strings.Join(p.AllowedIPs, ", "))
	}
	if p.Since != nil {
		fmt.Fprintf(w, "  connected since %s (%s)", p.Since.Format(time.RFC3339), now.Sub(*p.Since).Round(time.Second))
		if p.RTT != "" {
			fmt.Fprintf(w, ", keepalive rtt %s", p.RTT)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  %s, %s, key exchange %s\n", p.TLSVersion, p.Cipher, p.Group)
	}
	if p.Serial != "" && p.NotAfter != nil {
		soon := ""
		if p.ExpiresSoon {
			soon = " (SOON)"
		}
		fmt.Fprintf(w, "  certificate serial %s, expires %s%s\n", p.Serial, p.NotAfter.Format(time.RFC3339), soon)
	}
	if p.RotatedAt != nil {
		fmt.Fprintf(w, "  connection last rotated %s\n", p.RotatedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  received %s in %d packets, sent %s in %d packets\n", bytesIEC(p.RxBytes), p.RxPackets, bytesIEC(p.TxBytes), p.TxPackets)
	fmt.Fprintf(w, "  drops: %s\n", counts(p.Drops))
	if p.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", p.LastError)
	}
	if p.NextRetry != nil {
		fmt.Fprintf(w, "  next retry in %s\n", p.NextRetry.Sub(now).Round(time.Millisecond))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// counts lists the non-zero counts of m by name: "aqm 3, tun_write 1".
func counts(m map[string]uint64) string {
	var keys []string
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// age is a duration in two units at most: "45s", "12m05s", "5h02m", "3d04h".
func age(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
