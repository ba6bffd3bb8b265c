package tunnel

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// peerSet is the engine's peers by name and the route table built from
// their policies. The TUN reader routes by destination through route,
// without a lock; the set itself changes under mu (SetPeers, Close).
//
// Its peers dial once it is started (Engine.Start). Once closed
// (Engine.Close), every peer in it is stopped and a peer added later is
// born stopped, so no connection attaches after Close.
type peerSet struct {
	mu      sync.Mutex
	byName  map[string]*peer
	started bool
	closed  bool
	routes  atomic.Pointer[routes] // rebuilt whole after every change

	all atomic.Pointer[[]*peer] // every peer, for flooding frames (TAP); rebuilt with routes
}

func (s *peerSet) init(e *Engine, pcs []PeerConfig) {
	s.byName = map[string]*peer{}
	for _, pc := range pcs {
		s.byName[pc.Name] = newPeer(e, pc)
	}
	s.rebuild()
}

// route is the peer whose allowed IPs hold dst, by longest match, or nil.
func (s *peerSet) route(dst netip.Addr) *peer { return s.routes.Load().lookup(dst) }

// flood is every peer, in no order, without a lock: the ones a flooded
// frame goes to. The caller must not modify the slice.
func (s *peerSet) flood() []*peer { return *s.all.Load() }

// get is the peer called name, or nil.
func (s *peerSet) get(name string) *peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName[name]
}

// list is every peer, in no order.
func (s *peerSet) list() []*peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := make([]*peer, 0, len(s.byName))
	for _, p := range s.byName {
		ps = append(ps, p)
	}
	return ps
}

// startAll starts the dialers of the peers with an endpoint, and of those
// added later.
func (s *peerSet) startAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for _, p := range s.byName {
		p.startDialer()
	}
}

// stopAll closes the set and stops every peer; it returns their live
// connections, for the caller to retire.
func (s *peerSet) stopAll() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var conns []*conn
	for _, p := range s.byName {
		if c := p.stop(); c != nil {
			conns = append(conns, c)
		}
	}
	return conns
}

// replace makes pcs the set's peers: new ones are added (and start
// dialing), kept ones take their new policy without touching their
// connection, removed ones are stopped. It returns the live connections
// of the removed peers, for the caller to retire.
func (s *peerSet) replace(e *Engine, pcs []PeerConfig) (gone []*conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := map[string]bool{}
	for _, pc := range pcs {
		keep[pc.Name] = true
		p, ok := s.byName[pc.Name]
		if ok {
			p.pol.Store(policyOf(pc))
		} else {
			p = newPeer(e, pc)
			s.byName[pc.Name] = p
			e.log.Info("peer added", "peer", pc.Name)
		}
		switch {
		case s.closed:
			p.stop()
		case s.started:
			p.startDialer()
		}
	}
	for name, p := range s.byName {
		if !keep[name] {
			delete(s.byName, name)
			if c := p.stop(); c != nil {
				gone = append(gone, c)
			}
			e.l2.removePort(p)
			e.log.Info("peer removed", "peer", name)
		}
	}
	s.rebuild()
	return gone
}

// rebuild swaps in a route table made from the peers' policies now. The
// caller holds mu, or the set is not shared yet.
func (s *peerSet) rebuild() {
	list := make([]*peer, 0, len(s.byName))
	for _, p := range s.byName {
		list = append(list, p)
	}
	s.routes.Store(newRoutes(list))
	s.all.Store(&list)
}
