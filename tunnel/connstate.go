package tunnel

import (
	"fmt"
	"slices"
)

// connState is where a connection is in its life (docs/datapath.md,
// "Connection lifecycle", has the table with who makes each move). The
// states are ordered: a connection only moves forward, along connMoves,
// and every change goes through conn.move.
type connState uint32

const (
	// connNew: authenticated, not attached; no goroutines, nothing queued.
	connNew connState = iota
	// connLive: the peer's connection; packets are routed and queued to it.
	connLive
	// connSuperseded: the peer said "replaced" (it has a newer connection
	// that has not reached us yet). Still the peer's connection: we keep
	// sending on it until our side moves on too.
	connSuperseded
	// connRetiring: no longer the peer's connection; the writer is told to
	// finish. Batches the TUN reader is queueing still land here.
	connRetiring
	// connDraining: the queue is closed; the writer writes what is left,
	// then the Close frame and close_notify.
	connDraining
	// connClosing: goodbye said and the write side shut; the reader reads
	// until the peer's side ends (at most retireTimeout).
	connClosing
	// connClosed: the socket is closed; the goroutines return and hand
	// whatever is still queued to the peer's current connection.
	connClosed
	numConnStates
)

var connStateNames = [numConnStates]string{
	connNew:        "new",
	connLive:       "live",
	connSuperseded: "superseded",
	connRetiring:   "retiring",
	connDraining:   "draining",
	connClosing:    "closing",
	connClosed:     "closed",
}

func (s connState) String() string {
	if s < numConnStates {
		return connStateNames[s]
	}
	return fmt.Sprintf("connState(%d)", uint32(s))
}

// connMoves is the one table of a connection's allowed state changes: for
// each state, the states it may move to. Any state may end in connClosed
// (kill); everything else is one step of a clean goodbye.
var connMoves = [numConnStates][]connState{
	connNew:        {connLive, connClosed},                     // peer.attach takes it, or refuses it
	connLive:       {connSuperseded, connRetiring, connClosed}, // the peer's Close "replaced"; retire; kill
	connSuperseded: {connRetiring, connClosed},                 // retire (our replacement, or retireTimeout); kill
	connRetiring:   {connDraining, connClosed},                 // the writer closes the queue; kill
	connDraining:   {connClosing, connClosed},                  // the writer said goodbye; kill
	connClosing:    {connClosed},                               // the reader saw the peer's end, or the deadline
}

// canMove reports whether connMoves allows from -> to.
func canMove(from, to connState) bool {
	return from < numConnStates && slices.Contains(connMoves[from], to)
}

// state is the connection's state now. Any goroutine may call it.
func (c *conn) state() connState { return connState(c.life.state.Load()) }

// move changes the connection's state to to and reports whether it did.
// Several goroutines ask for moves at once (the reader, the writer,
// attach, Close, a reload), so a request that comes too late, to a state
// the connection has reached or passed already, is no change and returns
// false quietly. A forward move that connMoves does not allow is a bug: it
// is logged and refused, and the connection stays where it is.
func (c *conn) move(to connState) bool {
	for {
		from := c.state()
		if to <= from {
			return false
		}
		if !canMove(from, to) {
			c.e.log.Error("bug: connection state change not allowed; report it", "peer", c.p.name,
				"detail", fmt.Sprintf("%v -> %v", from, to))
			return false
		}
		if c.life.state.CompareAndSwap(uint32(from), uint32(to)) {
			return true
		}
	}
}
