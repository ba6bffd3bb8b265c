package main

import (
	"context"
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
// reload.go (SIGHUP, `tlsvpn reload` and credential files),
// nodestatus.go and requests.go (the control socket's answers), ready.go
// and watchdog.go (what systemd is told), metrics.go (Prometheus) and
// up.go (signals and timers).
type node struct {
	log     *slog.Logger
	notify  *systemd.Notifier
	sd      *readiness
	metrics *metricsServer // nil without [metrics]
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
	n.sd = &readiness{notify: n.notify, log: log}
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
	if n.metrics, err = listenMetrics(cfg); err != nil {
		return nil, err
	}
	undo = append(undo, n.metrics.close)
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
	if n.metrics != nil {
		if err := n.metrics.serve(nodeCollector{snapshot: n.snapshot, creds: n.hs.Credentials}, log); err != nil {
			n.engine.Close()
			return nil, err
		}
	}
	// From here on nothing fails: the engine owns the device and the listener.
	n.engine.Start()
	n.ctl = control.Serve(ctlLn, n.handle, log)
	n.watch = startWatcher(credFiles(cfg), n.filesChanged, log)
	n.checkHealth()

	dev := n.host.dev
	log.Info("node up", "node", cfg.Name, "interface", dev.Name(), "mode", dev.Kind().String(), "mtu", dev.MTU(),
		"offload", dev.Offload().String(), "listen", listenAddr(cfg), "peers", len(cfg.Peers), "control", cfg.Control.Socket,
		"metrics", metricsAddr(cfg))
	n.sd.update(n.summary()) // READY=1 now, unless required peers are still to come
	return n, nil
}

func metricsAddr(cfg *config.Config) string {
	if cfg.Metrics == nil {
		return ""
	}
	return cfg.Metrics.Listen
}

// stop brings the node down: peers are told, the interface and its routes
// are removed, the control socket closes.
func (n *node) stop() {
	n.notify.Stopping()
	n.watch.stop()
	n.metrics.close()
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
