package main

import (
	"log/slog"
	"slices"
	"time"
)

// watchdog feeds systemd's watchdog (WatchdogSec= in the unit) only
// while every packet loop is live: parked in its blocking read, or in a
// pass younger than within (half of WatchdogSec). A stalled loop stops
// WATCHDOG=1, and systemd aborts and restarts the node; the log names the
// loop first. The main loop owns it.
type watchdog struct {
	log     *slog.Logger
	stalled func(now time.Time, within time.Duration) []string // tunnel.Engine.Stalled
	alive   func()                                             // sends WATCHDOG=1
	within  time.Duration
	held    []string // the loops that held WATCHDOG=1 back at the last tick
}

// tick sends WATCHDOG=1 unless a loop is stalled at now, and logs when
// that begins, changes or ends.
func (w *watchdog) tick(now time.Time) {
	stuck := w.stalled(now, w.within)
	switch {
	case len(stuck) == 0 && len(w.held) > 0:
		w.log.Warn("packet loops are moving again; feeding the systemd watchdog", "loops", w.held)
	case len(stuck) > 0 && !slices.Equal(stuck, w.held):
		w.log.Error("packet loop stalled; withholding the systemd watchdog, which restarts the node",
			"loops", stuck, "within", w.within)
	}
	w.held = stuck
	if len(stuck) == 0 {
		w.alive()
	}
}
