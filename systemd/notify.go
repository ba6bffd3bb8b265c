// Package systemd tells systemd about the node's life (sd_notify: READY,
// RELOADING, STOPPING, STATUS, WATCHDOG), logs into the journal over its
// native protocol (docs/logging.md) and ships the unit file
// tlsvpn@.service. Outside systemd (no NOTIFY_SOCKET) every notification
// is a no-op, and logs go to standard error as text.
package systemd

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to systemd. Its methods are safe for
// concurrent use; failures are logged, never fatal.
type Notifier struct {
	log *slog.Logger
}

// NewNotifier returns a Notifier logging failures to log.
func NewNotifier(log *slog.Logger) *Notifier { return &Notifier{log: log} }

func (n *Notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("notify systemd", "state", state, "err", err)
	}
}

// Ready says the node is up: interface configured, listening or dialing.
func (n *Notifier) Ready(status string) { n.send(daemon.SdNotifyReady + "\nSTATUS=" + status) }

// Reloading says a reload started; Ready must follow.
func (n *Notifier) Reloading() {
	n.send(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, monotonicUsec()))
}

// Stopping says the node is shutting down.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Status sets the one-line status systemctl shows.
func (n *Notifier) Status(s string) { n.send("STATUS=" + s) }

// Watchdog returns the interval at which to send WATCHDOG=1 (half the
// unit's WatchdogSec), or 0 when the watchdog is off.
func (n *Notifier) Watchdog() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

// Alive sends WATCHDOG=1.
func (n *Notifier) Alive() { n.send(daemon.SdNotifyWatchdog) }
