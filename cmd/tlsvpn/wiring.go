package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// The wiring of a configuration into the handshake and tunnel packages,
// which take plain values and never read the configuration themselves.

// engineConfig is the tunnel engine's configuration for cfg, over dev,
// authenticating with auth and accepting on ln (nil: no listener).
func engineConfig(cfg *config.Config, dev netif.Device, auth tunnel.Authenticator, ln net.Listener, log *slog.Logger) tunnel.Config {
	return tunnel.Config{Name: cfg.Name, Device: dev, Auth: auth, Listener: ln,
		Peers: peerConfigs(cfg), Log: log, RotateAge: cfg.TLS.RotateAfter,
		CongestionControl: cfg.Transport.CongestionControl, ForwardBetweenPeers: cfg.Interface.ForwardBetweenPeers}
}

// listen opens the listening socket of cfg's [listen] section; nil when
// there is none.
func listen(cfg *config.Config) (net.Listener, error) {
	if cfg.Listen == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (listen.address in %s): %w", cfg.Listen.Address, cfg.Path, err)
	}
	return ln, nil
}

func listenAddr(cfg *config.Config) string {
	if cfg.Listen == nil {
		return ""
	}
	return cfg.Listen.Address
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
