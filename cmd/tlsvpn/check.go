package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/config"
)

func newCheckCmd() *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "check -c FILE",
		Short: "Validate a configuration and its certificates",
		Long: `check validates FILE and the files it names: every problem is printed, each with
the file, the key and the line, and the exit status is 1; warnings keep status 0.
It never binds, resolves, opens devices or changes the host.`,
		Example: "  tlsvpn check -c /etc/tlsvpn/office-a.toml",
		Args:    exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			_, warnings, err := config.Load(path)
			out := c.OutOrStdout()
			for _, w := range warnings {
				fmt.Fprintf(out, "warning: %s\n", w)
			}
			var cerr *config.Error
			if errors.As(err, &cerr) {
				for _, p := range cerr.Problems {
					fmt.Fprintf(c.ErrOrStderr(), "error: %s\n", p)
				}
				fmt.Fprintf(c.ErrOrStderr(), "%s: %d problem(s)\n", path, len(cerr.Problems))
				return exitError{exitFailure}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: ok\n", path)
			return nil
		},
	}
	configFlag(c, &path)
	return c
}
