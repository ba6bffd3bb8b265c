package tunnel

import (
	"time"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// The data path of TAP mode: Ethernet frames cross the tunnel whole, as
// frames of type wire.TypeFrame, batched exactly like packets. The device
// reader (readTUN) hands each frame to switchFrame; a connection's reader
// hands each frame it receives to deliverFrame. Both ask the switch
// (l2.go) where the frame goes.

// switchFrame is the device reader's step for one frame read from a TAP:
// frame is header space followed by the Ethernet frame, read in place
// into pend.last's tail when that is where it points. A frame to a MAC
// learned behind a peer goes into the batch of that peer's connection;
// broadcast, multicast and unknown unicast into the batch of every
// connected peer.
func (e *Engine) switchFrame(pend *pending, frame []byte, _ *flowTable, now int64, timer *time.Timer) {
	var h l2.Header
	if !l2.Parse(frame[wire.HeaderLen:], &h) {
		e.l2.devCt.drop(dropMalformed, 1)
		return
	}
	a := e.l2.sw.FromDevice(&h, now)
	if a.Drop != l2.Pass {
		e.l2.devCt.drop(macDrops[a.Drop], 1)
		return
	}
	if a.From != nil {
		e.l2.moves.note(h.Src, a.From, e.l2.sw.LocalPort(), now)
	}
	wire.PutHeader(frame, wire.TypeFrame, len(frame)-wire.HeaderLen)
	switch {
	case a.Peer != nil:
		p := a.Peer.ID()
		if c := p.current(); c != nil {
			e.queue(pend, c, frame, false, timer)
		} else {
			p.ctr.drop(dropNoConn, 1)
		}
	case a.Flood:
		for _, p := range e.peers.flood() {
			if c := p.current(); c != nil {
				e.queue(pend, c, frame, false, timer)
			}
		}
	}
}

// deliverFrame handles one frame received from the peer (frame is the
// whole stream frame, header included, inside the reader's buffer): it is
// checked, its source learned, and it goes where the switch says: to the
// device (queued in c.r.wq like a packet), and with forward_between_peers
// to other peers (queued in the reader's relay). Only c's reader calls it.
func (c *conn) deliverFrame(frame []byte) {
	eth := frame[wire.HeaderLen:]
	var h l2.Header
	if !l2.Parse(eth, &h) || len(eth) > c.e.dev.mtu+h.Len() {
		c.dropFrame(dropMalformed)
		return
	}
	now := c.heard.lastRecv.Load() // when the records holding it were read
	a := c.e.l2.sw.FromPeer(c.p.port, &h, now)
	if a.Drop != l2.Pass {
		c.dropFrame(macDrops[a.Drop])
		return
	}
	if a.From != nil {
		c.e.l2.moves.note(h.Src, a.From, c.p.port, now)
	}
	if a.Device {
		c.r.wq = append(c.r.wq, eth)
		if len(c.r.wq) == cap(c.r.wq) {
			c.flushDevice()
		}
	}
	if a.Peer != nil {
		c.relayTo(a.Peer.ID(), frame, true)
	}
	if a.Flood {
		for _, p := range c.e.peers.flood() {
			if p != c.p {
				c.relayTo(p, frame, false)
			}
		}
	}
}

// dropFrame counts and logs a frame from the peer that goes nowhere.
func (c *conn) dropFrame(r dropReason) {
	c.p.ctr.drop(r, 1)
	c.e.drops.note(r, c.p.name)
}

// relay holds the batches a connection's reader fills with frames for
// other peers (forward_between_peers), one per connection, until the end
// of each parse hands them to those connections' writers. Only the
// reader touches it.
type relay struct {
	pend  pending
	timer *time.Timer // for send's bounded wait on a full queue; made at the first relayed frame
}

// relayTo copies frame into the reader's batch for p's connection. A
// frame for p alone (unicast) that finds p without a connection is
// counted as p's no_connection drop; a flooded one just skips it.
func (c *conn) relayTo(p *peer, frame []byte, unicast bool) {
	to := p.current()
	if to == nil {
		if unicast {
			p.ctr.drop(dropNoConn, 1)
		}
		return
	}
	rl := &c.r.relay
	if rl.timer == nil {
		rl.timer = time.NewTimer(time.Hour)
		rl.timer.Stop()
	}
	c.e.queue(&rl.pend, to, frame, false, rl.timer)
}

// flushRelay hands the relayed frames to their connections' writers. A
// full queue holds the reader at most queueWait per batch, as it holds
// the device reader (queue.go).
func (c *conn) flushRelay() {
	if rl := &c.r.relay; len(rl.pend.list) > 0 {
		c.e.flush(&rl.pend, rl.timer)
	}
}
