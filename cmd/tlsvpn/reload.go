package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// reloadReply is the answer to a reload request: what the new
// configuration warns about and the changed keys that wait for a restart.
type reloadReply struct {
	Warnings    []string `json:"warnings"`
	RestartKeys []string `json:"restart_keys"`
}

// reload re-reads the configuration, certificates and CRL and applies
// what changed. A new config that fails to load leaves the running one in
// force; the error says why. systemd sees RELOADING=1, then READY=1.
func (n *node) reload(ctx context.Context) (reloadReply, error) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	began := n.sd.reloading()
	defer func() { n.sd.reloaded(began, n.summary().line()) }()
	out, err := n.apply(ctx)
	if n.recordReload(err) {
		n.log.Error("reload failed; keeping the configuration in force", "err", err)
		return out, err
	}
	n.log.Info("reloaded", "peers", len(n.cfg.Peers))
	n.checkHealth()
	return out, nil
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

func (n *node) apply(ctx context.Context) (reloadReply, error) {
	out := reloadReply{Warnings: []string{}, RestartKeys: []string{}}
	// The credentials in force guard against a CRL rollback.
	cfg, warnings, err := config.Loader{InForce: n.hs.Credentials()}.Load(n.boot.Path)
	if err != nil {
		return out, err
	}
	if err := refuseUnbuilt(cfg); err != nil {
		return out, err
	}
	for _, w := range warnings {
		n.log.Warn("configuration", "warning", w.String())
		out.Warnings = append(out.Warnings, w.String())
	}
	for _, k := range n.boot.RestartKeys(cfg) {
		n.log.Warn("reload cannot apply this change; restart the node to apply it", "key", k)
		out.RestartKeys = append(out.RestartKeys, k)
	}
	n.host.syncRoutes(cfg.Routes())
	n.engine.SetPeers(peerConfigs(cfg))
	n.useCredentials(cfg.Credentials, peerPolicies(cfg))
	n.mu.Lock()
	n.cfg = cfg
	n.mu.Unlock()
	n.watch.setFiles(credFiles(cfg))
	return out, nil
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
	files := []string{cfg.TLS.CA, cfg.TLS.Cert, cfg.TLS.Key}
	if ra := cfg.RemoteAccess; ra != nil && ra.CA != cfg.TLS.CA {
		files = append(files, ra.CA)
	}
	return append(files, cfg.TLS.CRLs...)
}
