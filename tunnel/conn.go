package tunnel

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// Connection tuning.
const (
	queueLen      = 8               // batches waiting for one connection's writer
	writeBatches  = 4               // batches the writer seals into one write(2)
	deviceBatch   = 128             // packets the reader hands the device at once
	recordBufSize = 256 << 10       // the reader's buffer of records as read from the socket
	plainBufSize  = 512 << 10       // the reader's buffer of opened frames: a read's worth plus a partial frame
	retireTimeout = 5 * time.Second // how long a retired connection may take to drain
)

// conn is one authenticated connection to a peer. Three goroutines serve
// it from start on: the writer (writer.go: batches and control frames
// sealed into TLS records), the reader (reader.go: records opened,
// packets to the device) and a supervisor that, once both have returned,
// closes the socket and hands what is still queued to the peer's current
// connection. Its life is a connState (connstate.go): retire ends it
// after what is queued, kill ends it at once.
//
// The fields are grouped by owner: what never changes after newConn, the
// life every goroutine may read, the queue shared by the TUN reader and
// the writer, and the parts only the writer or only the reader touch.
type conn struct {
	e      *Engine
	p      *peer
	sess   *handshake.Session
	st     *handshake.Stream // Seal belongs to the writer, Open to the reader
	accept netif.Offload     // GSO types the peer accepts
	since  time.Time
	ka     time.Duration

	life     lifecycle   // state, why it ended, and the channels that tell the goroutines
	q        queues      // batches from the TUN reader to the writer (queue.go)
	asks     writerAsks  // control frames others ask the writer to send
	w        writerOwn   // the writer's alone
	r        readerOwn   // the reader's alone
	heard    heard       // what the reader learned, for the writer and status
	rotating atomic.Bool // a rotation of this connection is under way (rotate.go)
	live     connLoops   // its loops' liveness, for the watchdog (liveness.go)
}

// lifecycle is where a connection is in its life. Any goroutine may read
// it; state changes only through conn.move.
type lifecycle struct {
	state atomic.Uint32         // a connState
	leave chan wire.CloseReason // the reason of the one move to connRetiring, for the writer
	dead  chan struct{}         // closed by the one move to connClosed
	done  chan struct{}         // closed when the goroutines have returned and the queue is handed over
	err   atomic.Pointer[error] // the first error that ended the connection; nil for a clean end
}

// writerAsks are the control frames the reader (a pong) and rotation (a
// Rotate frame) ask the writer to send; wake makes it look.
type writerAsks struct {
	wake    chan struct{}
	pong    atomic.Uint64 // the ping value to answer
	pongDue atomic.Bool
	rotate  atomic.Bool
}

// writerOwn is the writer's state; no other goroutine touches it.
type writerOwn struct {
	buf       []byte // sealed records, reused
	aqm       codel  // CoDel state of the bulk queue
	limitSeen bool   // the sent-records limit has started a rotation
}

// readerOwn is the reader's state; no other goroutine touches it.
type readerOwn struct {
	wq        [][]byte // validated packets, written to the device together
	limitSeen bool     // the received-records limit has started a rotation
	relay     relay    // frames for other peers (TAP, forward_between_peers; frames.go)
}

// heard is what the reader learns, for the writer's keepalive and
// rotation checks and for status.
type heard struct {
	lastRecv atomic.Int64  // unix nanos of the last bytes read
	rtt      atomic.Int64  // last keepalive round trip, nanoseconds
	records  atomic.Uint64 // records opened (the sent ones are the Sealer's sequence number)
}

func newConn(e *Engine, p *peer, s *handshake.Session) *conn {
	c := &conn{
		e: e, p: p, sess: s, st: s.Stream,
		accept: netif.OffloadFromNames(s.Remote.GSO), since: time.Now(), ka: p.policy().keepalive,
	}
	c.life.leave = make(chan wire.CloseReason, 1)
	c.life.dead = make(chan struct{})
	c.life.done = make(chan struct{})
	c.q.out = make(chan *batch, queueLen)
	c.q.express = make(chan *batch, queueLen)
	c.asks.wake = make(chan struct{}, 1)
	c.r.wq = make([][]byte, 0, deviceBatch)
	c.heard.lastRecv.Store(time.Now().UnixNano())
	return c
}

// start runs the writer, the reader and their supervisor. Only attach
// calls it, once the connection is live.
func (c *conn) start() {
	var wg sync.WaitGroup
	wg.Add(2)
	c.e.goroutine(func() { defer wg.Done(); c.e.runLoop(&c.live.writer, c.loopName("writer"), c.writeLoop) })
	c.e.goroutine(func() { defer wg.Done(); c.e.runLoop(&c.live.reader, c.loopName("reader"), c.readLoop) })
	c.e.goroutine(func() {
		wg.Wait()
		c.kill(nil) // closes the socket if neither loop did
		c.p.detach(c)
		c.handOver()
		close(c.life.done)
	})
}

// kill closes the connection now; err says why (nil for a clean end). Any
// goroutine may call it, any number of times.
func (c *conn) kill(err error) {
	if !c.move(connClosed) {
		return
	}
	c.setErr(err)
	close(c.life.dead)
	c.st.Conn.Close()
}

// setErr records why the connection ends, unless an earlier cause was
// recorded already (a write that fails after the certificate expired
// does not hide the expiry).
func (c *conn) setErr(err error) {
	if err != nil {
		c.life.err.CompareAndSwap(nil, &err)
	}
}

// retire ends the connection after what is queued: it leaves the peer's
// slot (if it still held it) and tells the writer to drain the queue and
// send a Close frame with reason r, then close_notify; the reader keeps
// delivering until the peer's side ends. Only the first retire counts.
// Any goroutine may call it.
func (c *conn) retire(r wire.CloseReason) {
	if !c.move(connRetiring) {
		return
	}
	c.p.detach(c)
	c.life.leave <- r // room for one, and only one move to connRetiring
}

// superseded marks the peer's Close "replaced": the peer has a newer
// connection, so this one ends once ours moves there too, or when the
// writer's retireTimeout passes first.
func (c *conn) superseded() {
	if c.move(connSuperseded) {
		c.wakeWriter()
	}
}

// endErr is the error that ended the connection, or nil.
func (c *conn) endErr() error {
	if p := c.life.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *conn) isDead() bool { return c.state() == connClosed }

// waitRetired waits until every conn has ended, at most d; then it kills
// those left.
func waitRetired(conns []*conn, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for _, c := range conns {
		select {
		case <-c.life.done:
		case <-deadline.C:
			for _, c := range conns {
				c.kill(errShutdownTimeout)
			}
			return
		}
	}
}

// handOver moves what is still queued on a closed connection to the
// peer's current connection, if any. Only the supervisor calls it.
func (c *conn) handOver() {
	// The state is closed, so the queue is. A TUN reader that looked
	// before the kill may still be queueing, holding mu shared: taking mu
	// waits for its batch, which the loop below then hands over.
	c.q.mu.Lock()
	//lint:ignore SA2001 the lock is a barrier, not a guard
	c.q.mu.Unlock()
	timer := time.NewTimer(time.Hour) // for reroute's wait on a full queue
	timer.Stop()
	for {
		select {
		case b := <-c.q.express:
			c.e.reroute(b, timer)
		case b := <-c.q.out:
			c.e.reroute(b, timer)
		default:
			return
		}
	}
}

func (c *conn) remote() string { return c.st.Conn.RemoteAddr().String() }
