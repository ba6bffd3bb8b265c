package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/control"
	"github.com/tlsvpn/tlsvpn/internal/status"
)

func newStatusCmd() *cobra.Command {
	var path string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status -c FILE [--json]",
		Short: "Show the running node's peers and traffic",
		Long: `status asks the node running FILE over its control socket and lists every
configured peer: state, endpoint, certificate, TLS parameters, traffic and drops.
--json prints the same as a versioned object (docs/status.md).`,
		Example: "  tlsvpn status -c /etc/tlsvpn/office-a.toml\n  tlsvpn status -c /etc/tlsvpn/office-a.toml --json | jq .tunnel.peers",
		Args:    exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			socket, err := config.ControlSocket(path)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			raw, err := control.Query(socket, control.RequestStatus)
			if errors.Is(err, control.ErrNoNode) {
				return fmt.Errorf("no running node for %s (control socket %s)", path, socket)
			}
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
			printStatus(c.OutOrStdout(), &s, time.Now())
			return nil
		},
	}
	configFlag(c, &path)
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}

func printStatus(w io.Writer, s *status.Node, now time.Time) {
	fmt.Fprintf(w, "node %s (pid %d), interface %s, up %s\n", s.Node, s.PID, s.Interface, now.Sub(s.Started).Round(time.Second))
	if s.Listen != "" {
		fmt.Fprintf(w, "  listening on %s\n", s.Listen)
	}
	if s.ReloadErr != "" {
		fmt.Fprintf(w, "  LAST RELOAD FAILED (configuration in force kept): %s\n", s.ReloadErr)
	}
	fmt.Fprintf(w, "  tun offload: %s; packets to no peer dropped: %d\n", orNone(strings.Join(s.Tunnel.Offload, ",")), s.Tunnel.NoRouteDrops)
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", warn)
	}
	for _, p := range s.Tunnel.Peers {
		fmt.Fprintf(w, "\npeer %s: %s\n", p.Name, p.State)
		if p.Endpoint != "" || p.Remote != "" {
			fmt.Fprintf(w, "  endpoint %s, remote %s\n", orNone(p.Endpoint), orNone(p.Remote))
		}
		fmt.Fprintf(w, "  allowed ips %s\n", strings.Join(p.AllowedIPs, ", "))
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
		fmt.Fprintf(w, "  drops: %s\n", drops(p.Drops))
		if p.LastError != "" {
			fmt.Fprintf(w, "  last error: %s\n", p.LastError)
		}
		if p.NextRetry != nil {
			fmt.Fprintf(w, "  next retry in %s\n", p.NextRetry.Sub(now).Round(time.Millisecond))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func drops(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
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
