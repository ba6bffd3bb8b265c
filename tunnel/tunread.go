package tunnel

import (
	"errors"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// readTUN is the one goroutine reading the device. It blocks for the first
// packet, then drains the device without waiting until it is empty or
// batchBudget bytes were read, framing each packet straight into the batch
// of its peer's connection, and hands the batches to their writers.
func (e *Engine) readTUN() {
	scratch := make([]byte, frameMax)
	var pend pending
	flows := new(flowTable)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		wait, total := true, 0
		var now int64
		for total < batchBudget {
			buf := scratch
			if b := pend.last; b != nil && b.room() >= frameMax {
				buf = b.tail()
			}
			n, err := e.dev.Read(buf[wire.HeaderLen:frameMax], wait)
			if err != nil {
				e.flush(&pend, timer)
				if !errors.Is(err, netif.ErrClosed) && e.ctx.Err() == nil {
					e.log.Error("read TUN", "err", err)
				}
				return
			}
			if n == 0 {
				break
			}
			if wait {
				now = time.Now().UnixNano()
			}
			wait = false
			total += n
			e.route(&pend, buf[:wire.HeaderLen+n], flows, now, timer)
		}
		e.flush(&pend, timer)
	}
}

// route puts one read frame (header space + virtio header + packet) into
// the batch of the connection its destination maps to. The frame was read
// in place into pend.last's tail when that is where buf points.
func (e *Engine) route(pend *pending, frame []byte, flows *flowTable, now int64, timer *time.Timer) {
	pkt := frame[wire.HeaderLen:]
	hdr, err := packet.ParseHeader(pkt[packet.VirtioHdrLen:])
	if err != nil {
		e.noRoute.Add(1) // not IP we can route; count with no_route
		return
	}
	p := e.routes.Load().lookup(hdr.Dst)
	if p == nil {
		e.noRoute.Add(1)
		return
	}
	c := p.current()
	if c == nil {
		p.ctr.drop(dropNoConn, 1)
		return
	}
	if vh, _ := packet.ParseVirtioHdr(pkt); vh.GSOType != packet.GSONone && c.accept&netif.GSOOffload(vh.GSOType&^packet.GSOECN) == 0 {
		p.ctr.drop(dropGSO, 1)
		return
	}
	if !fixOutbound(pkt, hdr) {
		p.ctr.drop(dropMalformed, 1)
		return
	}
	wire.PutHeader(frame, wire.TypePacket, len(pkt))
	express := flows.express(pkt, hdr, now)
	if b := pend.last; b != nil && b.c == c && !express && !b.express && &b.buf[b.n] == &frame[0] {
		b.n += len(frame)
		b.pkts++
		return
	}
	b := pend.find(c, express)
	if b != nil && b.room() < len(frame) {
		pend.remove(b)
		e.send(b, timer)
		b = nil
	}
	if b == nil {
		b = pend.add(c, express)
	}
	copy(b.tail(), frame)
	b.n += len(frame)
	b.pkts++
	if !express {
		pend.last = b
	}
}

// flush hands every pending batch to its connection.
func (e *Engine) flush(pend *pending, timer *time.Timer) {
	for len(pend.list) > 0 {
		b := pend.list[len(pend.list)-1]
		pend.remove(b)
		e.send(b, timer)
	}
}

// queueWait bounds how long the TUN reader waits for room in a full bulk
// queue. It rarely waits: CoDel keeps the queue short long before it fills.
const queueWait = 50 * time.Millisecond

// send queues b on its connection, waiting at most queueWait for room
// (timer is the reader's reusable timer) and dropping the batch after that.
func (e *Engine) send(b *batch, timer *time.Timer) {
	c := b.c
	q := c.out
	if b.express {
		q = c.express
	}
	b.enq = time.Now().UnixNano()
	c.sendMu.RLock()
	if c.retired || c.isDead() {
		c.sendMu.RUnlock()
		e.reroute(b, timer)
		return
	}
	select {
	case q <- b:
		c.sendMu.RUnlock()
		return
	default:
	}
	timer.Reset(queueWait) // Go >= 1.23 timers need no draining around Reset and Stop
	select {
	case q <- b:
		timer.Stop()
		c.sendMu.RUnlock()
		return
	case <-c.dead:
		timer.Stop()
		c.sendMu.RUnlock()
		e.reroute(b, timer)
		return
	case <-timer.C:
	}
	c.sendMu.RUnlock()
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
