package tunnel

import (
	"sync"
	"time"
)

// queues carry a connection's batches from the TUN reader to its writer.
// The queue is open while the connection is live, superseded or retiring
// (state < connDraining). It closes by a move under mu: the writer's move
// to connDraining, or a kill followed by the supervisor's handOver, which
// takes mu before it empties the channels. So a batch is either written
// by the writer or handed over, never left behind.
type queues struct {
	mu      sync.RWMutex // the TUN reader holds it shared while queueing
	out     chan *batch  // bulk batches
	express chan *batch  // batches of sparse flows, written first
}

// queueOpen reports whether batches may be queued. Call it holding q.mu.
func (c *conn) queueOpen() bool { return c.state() < connDraining }

// queueWait bounds how long the TUN reader waits for room in a full bulk
// queue. It rarely waits: CoDel keeps the queue short long before it fills.
const queueWait = 50 * time.Millisecond

// send queues b on its connection, waiting at most queueWait for room
// (timer is the caller's reusable timer) and dropping the batch after that.
// The TUN reader calls it, and a supervisor handing batches over.
func (e *Engine) send(b *batch, timer *time.Timer) {
	c := b.c
	q := c.q.out
	if b.express {
		q = c.q.express
	}
	b.enq = time.Now().UnixNano()
	c.q.mu.RLock()
	if !c.queueOpen() {
		c.q.mu.RUnlock()
		e.reroute(b, timer)
		return
	}
	select {
	case q <- b:
		c.q.mu.RUnlock()
		return
	default:
	}
	timer.Reset(queueWait) // Go >= 1.23 timers need no draining around Reset and Stop
	select {
	case q <- b:
		timer.Stop()
		c.q.mu.RUnlock()
		return
	case <-c.life.dead:
		timer.Stop()
		c.q.mu.RUnlock()
		e.reroute(b, timer)
		return
	case <-timer.C:
	}
	c.q.mu.RUnlock()
	c.p.ctr.drop(dropQueueFull, uint64(b.pkts))
	putBatch(b)
}

// reroute hands a batch whose connection was retired or died to the peer's
// current connection: during a rotation, nothing is lost.
func (e *Engine) reroute(b *batch, timer *time.Timer) {
	p := b.c.p
	if nc := p.current(); nc != nil && nc != b.c {
		b.c = nc
		e.send(b, timer)
		return
	}
	p.ctr.drop(dropNoConn, uint64(b.pkts))
	putBatch(b)
}
