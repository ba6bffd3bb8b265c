package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/systemd"
)

func newUpCmd() *cobra.Command {
	var path, level, cpuprofile string
	c := &cobra.Command{
		Use:   "up -c FILE",
		Short: "Run the node in the foreground",
		Long: `up brings the node of FILE up: it creates and configures the TUN or TAP interface, listens
and dials as configured, and carries traffic until SIGTERM or SIGINT, removing the
interface and its routes on the way out. SIGHUP (or tlsvpn reload) reloads the
configuration, the certificates and the CRL. Under systemd it reports READY (once
every peer marked required is connected), RELOADING, STOPPING and a STATUS line,
and feeds the watchdog while every packet loop is live.`,
		Example: "  tlsvpn up -c /etc/tlsvpn/office-a.toml",
		Args:    exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
			}
			log := slog.New(systemd.NewLogHandler(lv))
			if cpuprofile != "" {
				stop, err := startCPUProfile(cpuprofile)
				if err != nil {
					return err
				}
				defer stop()
			}
			return runUp(path, log)
		},
	}
	configFlag(c, &path)
	c.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	c.RegisterFlagCompletionFunc("log-level",
		cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file (for developers)")
	c.Flags().MarkHidden("cpuprofile")
	return c
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func runUp(path string, log *slog.Logger) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	n, err := startNode(path, log)
	if err != nil {
		return err
	}
	healthTick := time.NewTicker(healthInterval)
	defer healthTick.Stop()
	statusTick := time.NewTicker(statusInterval)
	defer statusTick.Stop()
	var feed <-chan time.Time
	var dog *watchdog
	if d := n.notify.Watchdog(); d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		feed = t.C
		dog = &watchdog{log: log, stalled: n.engine.Stalled, alive: n.notify.Alive, within: d}
		dog.tick(time.Now())
	}
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				n.reload(context.Background())
				continue
			}
			log.Info("stopping", "signal", s.String())
			n.stop()
			return nil
		case now := <-feed:
			dog.tick(now)
		case <-statusTick.C:
			n.sd.update(n.summary())
		case <-healthTick.C:
			n.checkHealth()
		}
	}
}
