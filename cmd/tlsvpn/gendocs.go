//go:build gendocs

// The documentation generator, built only with -tags gendocs so that the
// shipped binary carries neither it nor its Markdown and roff libraries:
//
//	go run -tags gendocs ./cmd/tlsvpn gendocs --version 1.2.0 --date 2026-11-27 DIR

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/internal/gendocs"
)

func init() { buildCommands = append(buildCommands, newGenDocsCmd) }

func newGenDocsCmd() *cobra.Command {
	var o gendocs.Options
	var date string
	c := &cobra.Command{
		Use:    "gendocs DIR",
		Short:  "Write the manual pages and shell completions into DIR",
		Hidden: true,
		Args:   exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			d, err := time.Parse(time.DateOnly, date)
			if err != nil {
				return usageError{fmt.Errorf("--date %q: use YYYY-MM-DD", date)}
			}
			o.Date = d
			return gendocs.Write(c.Root(), args[0], o)
		},
	}
	c.Flags().StringVar(&o.Version, "version", version, "the version the pages name")
	c.Flags().StringVar(&date, "date", time.Now().UTC().Format(time.DateOnly), "the pages' date, YYYY-MM-DD")
	return c
}
