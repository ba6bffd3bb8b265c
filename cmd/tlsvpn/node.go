package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/control"
	"github.com/tlsvpn/tlsvpn/systemd"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// node is a running tlsvpn node: the wiring of config, handshake, netif,
// tunnel, the control socket and systemd. Its pieces: host.go (interface,
// addresses, routes), wiring.go (config to handshake and tunnel values),
// reload.go (SIGHUP and credential files), nodestatus.go (the status
// reply) and up.go (signals and timers).
type node struct {
	log     *slog.Logger
	notify  *systemd.Notifier
	hs      *handshake.Handshaker
	engine  *tunnel.Engine
	host    *host
	ctl     *control.Server
	started time.Time
	boot    *config.Config // the configuration the node started with: what a reload cannot change stays as here
	watch   *watcher

	reloadMu sync.Mutex // serialises reloads (SIGHUP and file changes)

	mu         sync.Mutex     // guards the fields below
	cfg        *config.Config // the configuration in force
	lastReload time.Time
	reloadErr  string
	logged     map[string]bool // health findings already logged
}

// startNode brings the node up. On any failure it removes what it made,
// so a failed start leaves no interface, route or socket behind.
func startNode(path string, log *slog.Logger) (n *node, err error) {
	cfg, warnings, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := refuseUnbuilt(cfg); err != nil {
		return nil, err
	}
	for _, w := range warnings {
		log.Warn("configuration", "warning", w.String())
	}
	n = &node{log: log, notify: systemd.NewNotifier(log), cfg: cfg, boot: cfg, started: time.Now()}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	ctlLn, err := control.Listen(cfg.Control.Socket)
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { ctlLn.Close() })
	if n.host, err = setupHost(cfg, log); err != nil {
		return nil, err
	}
	undo = append(undo, n.host.remove)
	ln, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	if ln != nil {
		undo = append(undo, func() { ln.Close() })
	}
	n.hs = handshake.New(cfg.Name, cfg.Credentials, peerPolicies(cfg), log, nil)
	if n.engine, err = tunnel.New(engineConfig(cfg, n.host.dev, n.hs, ln, log)); err != nil {
		return nil, err
	}
	// From here on nothing fails: the engine owns the device and the listener.
	n.engine.Start()
	n.ctl = control.Serve(ctlLn, n.handle, log)
	n.watch = startWatcher(credFiles(cfg), n.filesChanged, log)
	n.checkHealth()

	dev := n.host.dev
	log.Info("node up", "node", cfg.Name, "interface", dev.Name(), "mode", dev.Kind().String(), "mtu", dev.MTU(),
		"offload", dev.Offload().String(), "listen", listenAddr(cfg), "peers", len(cfg.Peers), "control", cfg.Control.Socket)
	n.notify.Ready(fmt.Sprintf("interface %s up, %d peer(s)", dev.Name(), len(cfg.Peers)))
	return n, nil
}

// stop brings the node down: peers are told, the interface and its routes
// are removed, the control socket closes.
func (n *node) stop() {
	n.notify.Stopping()
	n.watch.stop()
	n.engine.Close() // closes the device: the interface, its routes and its bridge membership go with it
	n.ctl.Close()
	n.log.Info("node stopped", "node", n.boot.Name)
}

// checkHealth logs what expires soon (or has expired): new findings once,
// errors (a stale CRL, an expired certificate) every time.
func (n *node) checkHealth() {
	n.mu.Lock()
	window := n.cfg.TLS.ExpiryWarning
	n.mu.Unlock()
	found := health(n.hs.Credentials(), n.engine.Status().Peers, window, time.Now())
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]bool{}
	for _, f := range found {
		seen[f.msg] = true
		if f.level >= slog.LevelError || !n.logged[f.msg] {
			n.log.Log(context.Background(), f.level, "certificate check", "problem", f.msg)
		}
	}
	n.logged = seen
}
