// Command tlsvpn is a site-to-site VPN over TLS 1.3 with mutual X.509
// certificates. docs/cli.md lists the commands.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// buildCommands are hidden commands that build tags add (gendocs.go).
var buildCommands []func() *cobra.Command

// Exit codes (docs/cli.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "tlsvpn:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitFailure
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tlsvpn",
		Short: "Site-to-site VPN over TLS 1.3 with X.509 certificates",
		Long: `tlsvpn joins networks through TUN interfaces carried over a TLS 1.3 session with
mutual certificate verification. It runs in the foreground; systemd runs it as tlsvpn@NAME.`,
		Example: `  tlsvpn pki init --dir pki && tlsvpn pki issue office-a --dir pki
  tlsvpn check -c /etc/tlsvpn/office-a.toml
  tlsvpn up -c /etc/tlsvpn/office-a.toml
  tlsvpn status -c /etc/tlsvpn/office-a.toml
  tlsvpn reload -c /etc/tlsvpn/office-a.toml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(newUpCmd(), newCheckCmd(), newStatusCmd(), newReloadCmd(), newPKICmd(), newVersionCmd())
	for _, c := range buildCommands {
		root.AddCommand(c())
	}
	return root
}

// isCobraUsage recognises the usage errors cobra makes itself (missing
// required flags, unknown commands), which reach us as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "required flag(s)") || strings.HasPrefix(msg, "unknown command") ||
		strings.HasPrefix(msg, "if any flags in the group")
}

// exitError carries an exit code other than 1 or 2 without a message of
// its own (the command printed what it had to say).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// configFlag adds the -c/--config flag every node command takes; shells
// complete it with .toml files.
func configFlag(c *cobra.Command, path *string) {
	c.Flags().StringVarP(path, "config", "c", "", "the node's configuration file (required)")
	c.MarkFlagRequired("config")
	c.MarkFlagFilename("config", "toml")
}

// exactArgs is cobra.ExactArgs reported as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  tlsvpn version",
		Args:    exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintf(c.OutOrStdout(), "tlsvpn %s\n", version)
			return nil
		},
	}
}
