package tunnel

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// collisionWindow: two connections of opposite directions completed this
// close together, from the same peer process, are a simultaneous dial;
// the one dialed by the node whose name sorts first is kept.
const collisionWindow = 2 * time.Second

// peer is one peer of the engine: its policy, the slot holding its live
// connection, its dialer (dial.go) and its counters.
type peer struct {
	e    *Engine
	name string
	pol  atomic.Pointer[policy] // swapped whole by SetPeers; read without a lock
	ctr  counters
	port *l2.Port[*peer] // its port of the engine's switch (TAP); nil with a TUN

	slot   connSlot
	kick   chan struct{} // wakes the dialer when the connection goes
	stopCh chan struct{} // closed by stop: the dialer returns
}

// connSlot holds a peer's live connection and what status shows of the
// peer. A connection enters it only through attach, which holds mu and
// refuses every connection once the peer is stopped: a peer stopped for
// good never takes a connection nobody would close.
type connSlot struct {
	mu        sync.Mutex
	cur       atomic.Pointer[conn] // live or superseded; loaded without mu by the data path
	state     peerState            // what the peer is doing; peerStopped is for good
	dialing   bool                 // a dialLoop runs
	lastErr   string
	nextRetry time.Time
	rotatedAt time.Time
}

// peerState is what status shows of a peer (docs/status.md,
// peers[].state). peerStopped is final.
type peerState uint8

const (
	peerAwaiting     peerState = iota // no endpoint: waiting for the peer to dial in
	peerConnecting                    // the dialer is at work
	peerConnected                     // a connection is in the slot
	peerDisconnected                  // the connection ended
	peerRedialWait                    // a dial failed; the next waits out the backoff
	peerStopped                       // the engine closed or the peer was removed
)

var peerStateNames = [...]string{
	peerAwaiting:     "waiting for the peer to dial in",
	peerConnecting:   "connecting",
	peerConnected:    "connected",
	peerDisconnected: "disconnected",
	peerRedialWait:   "waiting to redial",
	peerStopped:      "stopped",
}

func (s peerState) String() string { return peerStateNames[s] }

func newPeer(e *Engine, pc PeerConfig) *peer {
	p := &peer{e: e, name: pc.Name, kick: make(chan struct{}, 1), stopCh: make(chan struct{})}
	p.port = e.l2.addPort(p)
	pol := policyOf(pc)
	p.pol.Store(pol)
	if pol.dials() {
		p.slot.state = peerConnecting
	}
	return p
}

// current is the connection packets go to, or nil. Any goroutine may
// call it.
func (p *peer) current() *conn  { return p.slot.cur.Load() }
func (p *peer) policy() *policy { return p.pol.Load() }

// setState changes what status shows; the caller holds slot.mu. A stopped
// peer stays stopped.
func (p *peer) setState(s peerState) {
	if p.slot.state != peerStopped {
		p.slot.state = s
	}
}

// attach makes c (new) the peer's connection and starts it, unless the
// peer was stopped (errStopped: the engine is closing or the peer was
// removed while the handshake ran) or c loses a simultaneous dial against
// the live one (errDuplicate). The replaced connection is retired.
func (p *peer) attach(c *conn) error {
	s := &p.slot
	s.mu.Lock()
	if s.state == peerStopped {
		s.mu.Unlock()
		return errStopped
	}
	old := s.cur.Load()
	if old != nil && !old.isDead() && p.keepOld(old, c) {
		s.mu.Unlock()
		return errDuplicate
	}
	c.move(connLive) // c is new: nothing else moves it before start
	s.cur.Store(c)
	p.setState(peerConnected)
	s.lastErr = ""
	if isRotation(c.sess) {
		s.rotatedAt = time.Now()
		p.e.rotations.Add(1)
	}
	s.mu.Unlock()
	c.start()
	if old != nil {
		old.retire(wire.CloseReplaced)
	}
	return nil
}

// keepOld decides a simultaneous dial: same peer process, opposite
// directions, close together, not a rotation.
func (p *peer) keepOld(old, c *conn) bool {
	if isRotation(c.sess) || c.sess.Remote.BootID != old.sess.Remote.BootID ||
		c.sess.Dialed == old.sess.Dialed || time.Since(old.since) > collisionWindow {
		return false
	}
	keepDialedByUs := p.e.name < p.name
	return old.sess.Dialed == keepDialedByUs
}

// detach empties the slot if c is still in it, and wakes the dialer.
func (p *peer) detach(c *conn) {
	s := &p.slot
	s.mu.Lock()
	was := s.cur.CompareAndSwap(c, nil)
	if was {
		p.setState(peerDisconnected)
		if err := c.endErr(); err != nil {
			s.lastErr = err.Error()
		}
	}
	s.mu.Unlock()
	if !was {
		return
	}
	attrs := []any{"peer", p.name, "remote", c.remote(), "connected_for", time.Since(c.since).Round(time.Millisecond)}
	if err := c.endErr(); err != nil {
		attrs = append(attrs, "err", err)
	}
	p.e.log.Info("peer disconnected", attrs...)
	p.e.l2.flush(p)
	select {
	case p.kick <- struct{}{}:
	default:
	}
	p.e.updateOffload()
}

// stop takes the peer out of service for good (the engine closes, or the
// peer was removed): its dialer returns, it takes no connection from now
// on, and its connection, if any, is returned for the caller to retire.
func (p *peer) stop() *conn {
	s := &p.slot
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != peerStopped {
		s.state = peerStopped
		close(p.stopCh)
	}
	return s.cur.Swap(nil)
}
