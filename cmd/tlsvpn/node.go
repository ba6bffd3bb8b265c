package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/control"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/systemd"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// node is a running tlsvpn node: the wiring of config, handshake, netif,
// tunnel, the control socket and systemd.
type node struct {
	log     *slog.Logger
	notify  *systemd.Notifier
	hs      *handshake.Handshaker
	engine  *tunnel.Engine
	ctl     *control.Server
	ifname  string
	started time.Time
	boot    *config.Config // the configuration the node started with: what a reload cannot change stays as here
	watch   *watcher

	reloadMu sync.Mutex // serialises reloads (SIGHUP and file changes)

	mu         sync.Mutex     // guards the fields below
	cfg        *config.Config // the configuration in force
	routes     []netip.Prefix // routes installed on the interface
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
	n = &node{log: log, notify: systemd.NewNotifier(log), cfg: cfg, boot: cfg, ifname: cfg.Interface.Name, started: time.Now()}
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

	tun, err := netif.CreateTUN(netif.TUNConfig{Name: cfg.Interface.Name, MTU: cfg.Interface.MTU,
		Offload: cfg.Interface.Offload != config.OffloadOff, Logger: log})
	if err != nil {
		return nil, err
	}
	var dev netif.Device = tun
	if cfg.Interface.Offload == config.OffloadSplit {
		dev = netif.NewSplit(tun)
	}
	devOwned := true
	undo = append(undo, func() {
		if devOwned {
			dev.Close()
		}
	})
	routeUndo, err := netif.Configure(dev.Name(), netif.LinkConfig{Addresses: cfg.Interface.Addresses, Routes: cfg.Routes()})
	if err != nil {
		return nil, err
	}
	undo = append(undo, func() { routeUndo() })
	n.routes = cfg.Routes()

	var ln net.Listener
	if cfg.Listen != nil {
		if ln, err = net.Listen("tcp", cfg.Listen.Address); err != nil {
			return nil, fmt.Errorf("listen on %s (listen.address in %s): %w", cfg.Listen.Address, cfg.Path, err)
		}
		undo = append(undo, func() { ln.Close() })
	}
	n.hs = handshake.New(cfg.Name, cfg.Credentials, peerPolicies(cfg), log, nil)
	n.engine, err = tunnel.New(tunnel.Config{Name: cfg.Name, Device: dev, Auth: n.hs, Listener: ln,
		Peers: peerConfigs(cfg), Log: log, RotateAge: cfg.TLS.RotateAfter,
		CongestionControl: cfg.Transport.CongestionControl})
	if err != nil {
		return nil, err
	}
	devOwned = false // the engine closes it
	n.engine.Start()
	n.ctl = control.Serve(ctlLn, n.handle, log)
	n.watch = startWatcher(credFiles(cfg), n.filesChanged, log)
	n.checkHealth()

	log.Info("node up", "node", cfg.Name, "interface", dev.Name(), "mtu", dev.MTU(),
		"offload", dev.Offload().String(), "listen", listenAddr(cfg), "peers", len(cfg.Peers), "control", cfg.Control.Socket)
	n.notify.Ready(fmt.Sprintf("interface %s up, %d peer(s)", dev.Name(), len(cfg.Peers)))
	return n, nil
}

func listenAddr(cfg *config.Config) string {
	if cfg.Listen == nil {
		return ""
	}
	return cfg.Listen.Address
}

// stop brings the node down: peers are told, the interface and its routes
// are removed, the control socket closes.
func (n *node) stop() {
	n.notify.Stopping()
	n.watch.stop()
	n.engine.Close() // closes the device: the interface and its routes go with it
	n.ctl.Close()
	n.log.Info("node stopped", "node", n.boot.Name)
}

func peerPolicies(cfg *config.Config) []handshake.PeerPolicy {
	var ps []handshake.PeerPolicy
	for _, p := range cfg.Peers {
		ps = append(ps, handshake.PeerPolicy{Name: p.Name, AllowedIPs: p.AllowedIPs})
	}
	return ps
}

func peerConfigs(cfg *config.Config) []tunnel.PeerConfig {
	var ps []tunnel.PeerConfig
	for _, p := range cfg.Peers {
		ps = append(ps, tunnel.PeerConfig{Name: p.Name, Endpoint: p.Endpoint, AllowedIPs: p.AllowedIPs, Keepalive: p.Keepalive})
	}
	return ps
}

// reload re-reads the configuration, certificates and CRL and applies
// what changed. A new config that fails to load leaves the running one in
// force.
func (n *node) reload(ctx context.Context) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	n.notify.Reloading()
	defer n.notify.Ready("reloaded")
	if err := n.apply(ctx); n.recordReload(err) {
		n.log.Error("reload failed; keeping the configuration in force", "err", err)
		return
	}
	n.log.Info("reloaded", "peers", len(n.cfg.Peers))
	n.checkHealth()
}

// recordReload notes a reload's time and outcome for status; it reports
// whether the reload failed.
func (n *node) recordReload(err error) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lastReload = time.Now()
	n.reloadErr = ""
	if err != nil {
		n.reloadErr = err.Error()
	}
	return err != nil
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

func (n *node) apply(ctx context.Context) error {
	// The credentials in force guard against a CRL rollback.
	cfg, warnings, err := config.Loader{InForce: n.hs.Credentials()}.Load(n.boot.Path)
	if err != nil {
		return err
	}
	if err := refuseUnbuilt(cfg); err != nil {
		return err
	}
	for _, w := range warnings {
		n.log.Warn("configuration", "warning", w.String())
	}
	for _, k := range n.boot.RestartKeys(cfg) {
		n.log.Warn("reload cannot apply this change; restart the node to apply it", "key", k)
	}
	n.syncRoutes(cfg.Routes())
	n.engine.SetPeers(peerConfigs(cfg))
	n.useCredentials(cfg.Credentials, peerPolicies(cfg))
	n.mu.Lock()
	n.cfg = cfg
	n.mu.Unlock()
	n.watch.setFiles(credFiles(cfg))
	return nil
}

// useCredentials puts new credentials and peers in force: live tunnels that
// no longer pass are closed, and when the node's own certificate changed
// every tunnel moves to a new connection presenting it.
func (n *node) useCredentials(creds *trust.Credentials, peers []handshake.PeerPolicy) {
	old := n.hs.Credentials()
	n.hs.Update(creds, peers)
	n.engine.Reverify()
	if leaf := creds.Certificate().Leaf; !bytes.Equal(old.Certificate().Leaf.Raw, leaf.Raw) {
		n.log.Info("own certificate changed; rotating every connection", "serial", fmt.Sprintf("%x", leaf.SerialNumber))
		n.engine.RotateAll("own certificate renewed")
	}
}

// filesChanged reloads the certificates and the CRLs after a change on
// disk, with the loader and checks of a start (and the CRLs in force
// guarding against a rollback).
func (n *node) filesChanged() {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	creds, warnings, err := config.Loader{InForce: n.hs.Credentials()}.Credentials(cfg)
	for _, w := range warnings {
		n.log.Warn("configuration", "warning", w.String())
	}
	if n.recordReload(err) {
		n.log.Error("certificate files changed but do not load; keeping the ones in force", "err", err)
		return
	}
	n.useCredentials(creds, peerPolicies(cfg))
	n.log.Info("reloaded certificates and CRL after a change on disk")
	n.checkHealth()
}

// credFiles are the files whose change on disk reloads the credentials.
func credFiles(cfg *config.Config) []string {
	return append([]string{cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key}, cfg.TLS.CRLs...)
}

// syncRoutes adds and removes interface routes to match want.
func (n *node) syncRoutes(want []netip.Prefix) {
	n.mu.Lock()
	have := n.routes
	n.mu.Unlock()
	var now []netip.Prefix
	for _, p := range have {
		if slices.Contains(want, p) {
			now = append(now, p)
			continue
		}
		if err := netif.DelRoute(n.ifname, p); err != nil {
			n.log.Error("remove route", "prefix", p.String(), "err", err)
			now = append(now, p)
		}
	}
	for _, p := range want {
		if slices.Contains(have, p) {
			continue
		}
		if err := netif.AddRoute(n.ifname, p); err != nil {
			n.log.Error("add route", "prefix", p.String(), "err", err)
			continue
		}
		now = append(now, p)
	}
	n.mu.Lock()
	n.routes = now
	n.mu.Unlock()
}

// statusVersion is the version of the status object (docs/status.md).
const statusVersion = 1

// nodeStatus is the reply to a status request, and `status --json`.
type nodeStatus struct {
	Version    int           `json:"version"`
	Node       string        `json:"node"`
	Config     string        `json:"config"`
	Interface  string        `json:"interface"`
	Listen     string        `json:"listen,omitempty"`
	PID        int           `json:"pid"`
	Started    time.Time     `json:"started"`
	LastReload *time.Time    `json:"last_reload,omitempty"`
	ReloadErr  string        `json:"reload_error,omitempty"`
	Routes     []string      `json:"routes"`
	Warnings   []string      `json:"warnings"`
	Runtime    runtimeStatus `json:"runtime"`
	Tunnel     tunnel.Status `json:"tunnel"`
}

func (n *node) handle(req string) (any, error) {
	if req != control.RequestStatus {
		return nil, errors.New("unknown request " + fmt.Sprintf("%q", req))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s := nodeStatus{
		Version: statusVersion, Node: n.boot.Name, Config: n.boot.Path, Interface: n.ifname,
		Listen: listenAddr(n.boot), PID: os.Getpid(), Started: n.started, ReloadErr: n.reloadErr,
		Routes: []string{}, Warnings: []string{}, Tunnel: n.engine.Status(), Runtime: readRuntime(),
	}
	now := time.Now()
	for _, f := range health(n.hs.Credentials(), s.Tunnel.Peers, n.cfg.TLS.ExpiryWarning, now) {
		s.Warnings = append(s.Warnings, f.msg)
	}
	for i, p := range s.Tunnel.Peers {
		if p.NotAfter != nil && p.NotAfter.Sub(now) <= n.cfg.TLS.ExpiryWarning {
			s.Tunnel.Peers[i].ExpiresSoon = true
		}
	}
	if !n.lastReload.IsZero() {
		t := n.lastReload
		s.LastReload = &t
	}
	for _, r := range n.routes {
		s.Routes = append(s.Routes, r.String())
	}
	return s, nil
}
