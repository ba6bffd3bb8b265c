package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/handshake"
)

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

func (n *node) apply(ctx context.Context) error {
	cfg, warnings, err := config.Load(n.boot.Path)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		n.log.Warn("configuration", "warning", w.String())
	}
	creds, err := handshake.LoadCredentials(cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CRL)
	if err != nil {
		return err
	}
	for _, k := range n.boot.RestartKeys(cfg) {
		n.log.Warn("reload cannot apply this change; restart the node to apply it", "key", k)
	}
	n.host.syncRoutes(cfg.Routes())
	n.engine.SetPeers(peerConfigs(cfg))
	n.useCredentials(creds, peerPolicies(cfg))
	n.mu.Lock()
	n.cfg = cfg
	n.mu.Unlock()
	n.watch.setFiles(credFiles(cfg))
	return nil
}

// useCredentials puts new credentials and peers in force: live tunnels that
// no longer pass are closed, and when the node's own certificate changed
// every tunnel moves to a new connection presenting it.
func (n *node) useCredentials(creds *handshake.Credentials, peers []handshake.PeerPolicy) {
	old := n.hs.Credentials()
	n.hs.Update(creds, peers)
	n.engine.Reverify()
	if !bytes.Equal(old.Cert.Leaf.Raw, creds.Cert.Leaf.Raw) {
		n.log.Info("own certificate changed; rotating every connection", "serial", fmt.Sprintf("%x", creds.Cert.Leaf.SerialNumber))
		n.engine.RotateAll("own certificate renewed")
	}
}

// filesChanged reloads the certificates and the CRL after a change on disk.
func (n *node) filesChanged() {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	creds, err := handshake.LoadCredentials(cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.CRL)
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
	files := []string{cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key}
	if cfg.TLS.CRL != "" {
		files = append(files, cfg.TLS.CRL)
	}
	return files
}
