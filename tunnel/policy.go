package tunnel

import (
	"net/netip"
	"time"
)

// policy is what the engine holds a peer to: how it is reached, which
// inner addresses are its (the sources accepted from it and the
// destinations routed to it) and how often it is pinged. It is immutable;
// SetPeers swaps in a new one, which the data path picks up at its next
// batch.
//
// A configured peer's policy comes from its PeerConfig (policyOf). A peer
// of another kind, such as a client dialing in to a hub with leased
// addresses, would get its own from its lease; the data path asks nothing
// else of a peer.
type policy struct {
	endpoint   string         // host:port to dial; "" for a peer that dials in
	allowedIPs []netip.Prefix // its inner addresses
	keepalive  time.Duration  // never 0
}

// policyOf is pc's policy, with the defaults filled in.
func policyOf(pc PeerConfig) *policy {
	ka := pc.Keepalive
	if ka <= 0 {
		ka = DefaultKeepalive
	}
	return &policy{endpoint: pc.Endpoint, allowedIPs: pc.AllowedIPs, keepalive: ka}
}

// dials reports whether this node dials the peer (and so makes its
// rotations), rather than waiting for it.
func (p *policy) dials() bool { return p.endpoint != "" }
