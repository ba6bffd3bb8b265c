package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/control"
)

// askNode sends req to the running node of the configuration at path,
// over its control socket, and returns the JSON reply. No node answering
// is an error saying so; a node answering that the request failed is a
// *control.NodeError.
func askNode(path, req string) (json.RawMessage, error) {
	socket, err := config.ControlSocket(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw, err := control.Query(socket, req)
	if errors.Is(err, control.ErrNoNode) {
		return nil, fmt.Errorf("no running node for %s (control socket %s)", path, socket)
	}
	return raw, err
}

func newReloadCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "reload -c FILE",
		Short: "Make the running node reload its configuration, certificates and CRL",
		Long: `reload asks the node running FILE, over its control socket, to re-read the file,
its certificates and its CRL, as SIGHUP does, and waits until it is done. Peer
changes apply without touching other tunnels; the keys a reload cannot apply are
listed, and wait for a restart. When the new files do not load, the node keeps
the configuration in force and reload exits 1 with the reason. The unit's
ExecReload= runs it (systemctl reload tlsvpn@NAME).`,
		Example: "  tlsvpn reload -c /etc/tlsvpn/office-a.toml",
		Args:    exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			raw, err := askNode(path, control.RequestReload)
			if ne := (*control.NodeError)(nil); errors.As(err, &ne) {
				return fmt.Errorf("reload of %s failed; the node keeps the configuration in force:\n%s", path, ne.Msg)
			}
			if err != nil {
				return err
			}
			var r reloadReply
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("decode the reload reply: %w", err)
			}
			printReload(c.OutOrStdout(), path, r)
			return nil
		},
	}
	configFlag(c, &path)
	return c
}

func printReload(w io.Writer, path string, r reloadReply) {
	fmt.Fprintf(w, "reloaded %s\n", path)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if len(r.RestartKeys) > 0 {
		fmt.Fprintf(w, "not applied until the node restarts: %s\n", strings.Join(r.RestartKeys, ", "))
	}
}
