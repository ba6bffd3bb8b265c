package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/control"
	"github.com/tlsvpn/tlsvpn/internal/status"
)

// handle answers a request on the control socket: the node's status,
// assembled from the engine, the host and the reload record.
func (n *node) handle(req string) (any, error) {
	if req != control.RequestStatus {
		return nil, errors.New("unknown request " + fmt.Sprintf("%q", req))
	}
	routes := n.host.installed()
	n.mu.Lock()
	defer n.mu.Unlock()
	s := status.Node{
		Version: status.Version, Node: n.boot.Name, Config: n.boot.Path, Interface: n.host.ifname,
		Listen: listenAddr(n.boot), PID: os.Getpid(), Started: n.started, ReloadErr: n.reloadErr,
		Routes: []string{}, Warnings: []string{}, Tunnel: n.engine.Status(), Runtime: status.ReadRuntime(),
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
	return s, nil
}
