package main

import (
	"os"
	"time"

	"github.com/tlsvpn/tlsvpn/tunnel"
)

// statusVersion is the version of the status object (docs/status.md).
const statusVersion = 1

// nodeStatus is the reply to a status request, and `status --json`.
type nodeStatus struct {
	Version           int               `json:"version"`
	Node              string            `json:"node"`
	Config            string            `json:"config"`
	Interface         string            `json:"interface"`
	Listen            string            `json:"listen,omitempty"`
	PID               int               `json:"pid"`
	Started           time.Time         `json:"started"`
	LastReload        *time.Time        `json:"last_reload,omitempty"`
	ReloadErr         string            `json:"reload_error,omitempty"`
	Routes            []string          `json:"routes"`
	Warnings          []string          `json:"warnings"`
	HandshakeFailures map[string]uint64 `json:"handshake_failures"`
	Runtime           runtimeStatus     `json:"runtime"`
	Tunnel            tunnel.Status     `json:"tunnel"`
}

// status assembles the node's status from the engine, the handshake, the
// host and the reload record. Metrics read the same snapshot.
func (n *node) status() nodeStatus {
	routes := n.host.installed()
	n.mu.Lock()
	defer n.mu.Unlock()
	s := nodeStatus{
		Version: statusVersion, Node: n.boot.Name, Config: n.boot.Path, Interface: n.host.ifname,
		Listen: listenAddr(n.boot), PID: os.Getpid(), Started: n.started, ReloadErr: n.reloadErr,
		Routes: []string{}, Warnings: []string{}, HandshakeFailures: n.hs.Failures(),
		Tunnel: n.engine.Status(), Runtime: readRuntime(),
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
	for _, r := range routes {
		s.Routes = append(s.Routes, r.String())
	}
	return s
}
