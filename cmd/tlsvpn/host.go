package main

import (
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/netif"
)

// host is what the node set up on the machine: the TUN or TAP interface,
// its addresses and the routes through it (none for a TAP). The engine owns the device once it
// is built on it; closing the device removes the interface, its addresses
// and routes with it.
type host struct {
	log    *slog.Logger
	ifname string
	dev    netif.Device
	undo   func() error // removes the addresses and routes Configure added

	mu     sync.Mutex
	routes []netip.Prefix // routes installed on the interface
}

// setupHost creates the interface of cfg, adds its addresses and the
// routes of cfg. On failure it removes what it made.
func setupHost(cfg *config.Config, log *slog.Logger) (*host, error) {
	dev, err := createDevice(cfg, log)
	if err != nil {
		return nil, err
	}
	undo, err := netif.Configure(dev.Name(), netif.LinkConfig{Addresses: cfg.Interface.Addresses, Routes: cfg.Routes()})
	if err != nil {
		dev.Close()
		return nil, err
	}
	return &host{log: log, ifname: cfg.Interface.Name, dev: dev, undo: undo, routes: cfg.Routes()}, nil
}

// createDevice creates the interface of cfg: a TUN (with the split device
// over it when asked for), or in TAP mode a TAP with the node's stable MAC,
// a port of the configured bridge, if any.
func createDevice(cfg *config.Config, log *slog.Logger) (netif.Device, error) {
	if cfg.Interface.Mode == config.ModeTAP {
		return netif.CreateTAP(netif.TAPConfig{Name: cfg.Interface.Name, MTU: cfg.Interface.MTU,
			MAC: netif.StableMAC(cfg.Name, cfg.Interface.Name), Bridge: cfg.Interface.Bridge, Logger: log})
	}
	tun, err := netif.CreateTUN(netif.TUNConfig{Name: cfg.Interface.Name, MTU: cfg.Interface.MTU,
		Offload: cfg.Interface.Offload != config.OffloadOff, Logger: log})
	if err != nil {
		return nil, err
	}
	if cfg.Interface.Offload == config.OffloadSplit {
		return netif.NewSplit(tun), nil
	}
	return tun, nil
}

// remove undoes setupHost, for a start that fails before the engine owns
// the device.
func (h *host) remove() {
	h.undo()
	h.dev.Close()
}

// installed lists the routes installed on the interface now.
func (h *host) installed() []netip.Prefix {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.routes)
}

// syncRoutes adds and removes interface routes to match want. A route the
// kernel refuses to add or remove is logged and left as it is.
func (h *host) syncRoutes(want []netip.Prefix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	have := h.routes
	var now []netip.Prefix
	for _, p := range have {
		if slices.Contains(want, p) {
			now = append(now, p)
			continue
		}
		if err := netif.DelRoute(h.ifname, p); err != nil {
			h.log.Error("remove route", "prefix", p.String(), "err", err)
			now = append(now, p)
		}
	}
	for _, p := range want {
		if slices.Contains(have, p) {
			continue
		}
		if err := netif.AddRoute(h.ifname, p); err != nil {
			h.log.Error("add route", "prefix", p.String(), "err", err)
			continue
		}
		now = append(now, p)
	}
	h.routes = now
}
