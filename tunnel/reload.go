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
	for _, c := range e.peers.replace(e, peers) {
		c.retire(wire.CloseRemoved)
	}
	e.updateOffload()
}

// Reverify checks every live connection against the credentials and
// peers in force now and closes those that no longer pass (revoked,
// expired, no longer covered by their certificate).
func (e *Engine) Reverify() {
	for _, p := range e.peers.list() {
		c := p.current()
		if c == nil {
			continue
		}
		err := e.auth.Verify(c.sess)
		if err == nil {
			continue
		}
		e.log.Warn("closing tunnel: peer no longer passes verification", "peer", p.name,
			"reason", handshake.ReasonOf(err), "detail", errors.Unwrap(err))
		c.retire(wire.CloseRemoved)
	}
}

// RotateAll moves every live connection to a fresh one, make-before-break,
// as after the node's own certificate was renewed.
func (e *Engine) RotateAll(why string) {
	for _, p := range e.peers.list() {
		if c := p.current(); c != nil {
			p.rotate(c, why)
		}
	}
}

// Peers lists the configured peer names.
func (e *Engine) Peers() []string {
	ps := e.peers.list()
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.name)
	}
	slices.Sort(names)
	return names
}
