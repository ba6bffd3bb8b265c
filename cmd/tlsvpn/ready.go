package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tlsvpn/tlsvpn/systemd"
)

// statusInterval is how often the node refreshes systemd's STATUS= line
// and, until it is ready, looks whether its required peers are connected.
const statusInterval = 250 * time.Millisecond

// summary is the node at a glance: what systemd's STATUS= line says, and
// the required peers that hold READY=1 back.
type summary struct {
	up, peers int      // connected and configured peers
	missing   []string // required peers not connected, sorted
}

// line is the STATUS= text of a running node: "3/4 peers up".
func (s summary) line() string { return fmt.Sprintf("%d/%d peers up", s.up, s.peers) }

// summary counts the node's peers and names the required ones that are
// not connected.
func (n *node) summary() summary {
	up, peers := n.engine.Connected()
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	s := summary{up: len(up), peers: peers}
	for _, p := range cfg.Peers {
		if _, found := slices.BinarySearch(up, p.Name); p.Required && !found {
			s.missing = append(s.missing, p.Name)
		}
	}
	slices.Sort(s.missing)
	return s
}

// readiness is what systemd is told of the node's state: READY=1 once the
// interface is up and every required peer is connected, RELOADING=1 and
// READY=1 around each reload after that, and a STATUS= line kept current.
// Its methods are safe for concurrent use: the main loop updates it, a
// reload may come from the control socket.
type readiness struct {
	notify *systemd.Notifier
	log    *slog.Logger

	mu    sync.Mutex
	ready bool   // READY=1 was sent
	line  string // the STATUS= last sent
}

// update sends READY=1 once s misses no required peer, and the STATUS=
// line whenever it changed: until then it names the missing peers.
func (r *readiness) update(s summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		r.status(s.line())
		return
	}
	if len(s.missing) > 0 {
		line := fmt.Sprintf("waiting for required peers: %s (%s)", strings.Join(s.missing, ", "), s.line())
		if line != r.line {
			r.log.Info("waiting for required peers before telling systemd the node is ready", "peers", s.missing)
		}
		r.status(line)
		return
	}
	r.ready, r.line = true, s.line()
	r.notify.Ready(r.line)
}

// status sends line as STATUS= unless it was the last sent; the caller
// holds mu.
func (r *readiness) status(line string) {
	if line != r.line {
		r.line = line
		r.notify.Status(line)
	}
}

// reloading sends RELOADING=1 when the node is ready; before, a reload is
// part of the start as far as systemd knows. It reports whether it sent
// it, for reloaded.
func (r *readiness) reloading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		r.notify.Reloading()
	}
	return r.ready
}

// reloaded ends what reloading began: READY=1 with the STATUS= line.
func (r *readiness) reloaded(began bool, line string) {
	if !began {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line = line
	r.notify.Ready(line)
}
