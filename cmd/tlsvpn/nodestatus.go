package main

import (
	"os"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/status"
)

// snapshot assembles the node's status from the engine, the handshake,
// the host and the reload record: the control socket's answer, and what
// the metrics read.
func (n *node) snapshot() status.Node {
	routes := n.host.installed()
	n.mu.Lock()
	defer n.mu.Unlock()
	s := status.Node{
		Version: status.Version, Node: n.boot.Name, Config: n.boot.Path, Interface: n.host.ifname,
		Mode: n.host.dev.Kind().String(), Bridge: n.boot.Interface.Bridge,
		Listen: listenAddr(n.boot), PID: os.Getpid(), Started: n.started, ReloadErr: n.reloadErr,
		Routes: []string{}, Warnings: []string{}, HandshakeFailures: n.hs.Failures(),
		Tunnel: n.engine.Status(), Runtime: status.ReadRuntime(),
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
