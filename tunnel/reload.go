package tunnel

import (
	"errors"
	"slices"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// SetPeers applies a new peer list: new peers start, removed peers are
// disconnected, changed peers take their new allowed IPs, endpoint and
// keepalive without touching their connection. Call Reverify afterwards
// when credentials changed too.
func (e *Engine) SetPeers(peers []PeerConfig) {
	var gone []*conn
	e.mu.Lock()
	keep := map[string]bool{}
	for _, pc := range peers {
		keep[pc.Name] = true
		if p, ok := e.peers[pc.Name]; ok {
			old := p.cfg.Load()
			if pc.Keepalive <= 0 {
				pc.Keepalive = DefaultKeepalive
			}
			p.cfg.Store(&pc)
			if old.Endpoint == "" && pc.Endpoint != "" {
				p.start()
			}
			continue
		}
		p := newPeer(e, pc)
		e.peers[pc.Name] = p
		if e.ctx.Err() == nil {
			p.start()
		}
		e.log.Info("peer added", "peer", pc.Name)
	}
	for name, p := range e.peers {
		if !keep[name] {
			delete(e.peers, name)
			if c := p.detachAll(); c != nil {
				gone = append(gone, c)
			}
			e.log.Info("peer removed", "peer", name)
		}
	}
	e.rebuildRoutes()
	e.mu.Unlock()
	for _, c := range gone {
		c.retire(wire.CloseRemoved)
	}
	e.updateOffload()
}

// Reverify checks every live connection against the credentials and
// peers in force now and closes those that no longer pass (revoked,
// expired, no longer covered by their certificate).
func (e *Engine) Reverify() {
	e.mu.Lock()
	var conns []*conn
	for _, p := range e.peers {
		if c := p.current(); c != nil {
			conns = append(conns, c)
		}
	}
	e.mu.Unlock()
	for _, c := range conns {
		err := e.auth.Verify(c.sess)
		if err == nil {
			continue
		}
		e.log.Warn("closing tunnel: peer no longer passes verification", "peer", c.p.name,
			"reason", handshake.ReasonOf(err), "detail", errors.Unwrap(err))
		c.p.detach(c)
		c.retire(wire.CloseRemoved)
	}
}

// RotateAll moves every live connection to a fresh one, make-before-break,
// as after the node's own certificate was renewed.
func (e *Engine) RotateAll(why string) {
	e.mu.Lock()
	var ps []*peer
	for _, p := range e.peers {
		ps = append(ps, p)
	}
	e.mu.Unlock()
	for _, p := range ps {
		if c := p.current(); c != nil {
			p.rotate(c, why)
		}
	}
}

// Peers lists the configured peer names.
func (e *Engine) Peers() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.peers))
	for n := range e.peers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
