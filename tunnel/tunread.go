package tunnel

import (
	"errors"
	"time"

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
				e.flush(&pend)
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
			e.route(&pend, buf[:wire.HeaderLen+n], flows, now)
		}
		e.flush(&pend)
	}
}

// route puts one read frame (header space + virtio header + packet) into
// the batch of the connection its destination maps to. The frame was read
// in place into pend.last's tail when that is where buf points.
func (e *Engine) route(pend *pending, frame []byte, flows *flowTable, now int64) {
	pkt := frame[wire.HeaderLen:]
	info, ok := parseIP(pkt[netif.VirtioHdrLen:])
	if !ok {
		e.noRoute.Add(1) // not IP we can route; count with no_route
		return
	}
	p := e.routes.Load().lookup(info.dst)
	if p == nil {
		e.noRoute.Add(1)
		return
	}
	c := p.current()
	if c == nil {
		p.ctr.drop(dropNoConn, 1)
		return
	}
	if g := parseVnet(pkt).gsoType; g != gsoNone && c.accept&gsoOffload(g&^gsoECNBit) == 0 {
		p.ctr.drop(dropGSO, 1)
		return
	}
	if !fixOutbound(pkt, info) {
		p.ctr.drop(dropMalformed, 1)
		return
	}
	wire.PutHeader(frame, wire.TypePacket, len(pkt))
	express := flows.express(pkt, info, now)
	if b := pend.last; b != nil && b.c == c && !express && !b.express && &b.buf[b.n] == &frame[0] {
		b.n += len(frame)
		b.pkts++
		return
	}
	b := pend.find(c, express)
	if b != nil && b.room() < len(frame) {
		pend.remove(b)
		e.send(b)
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
func (e *Engine) flush(pend *pending) {
	for len(pend.list) > 0 {
		b := pend.list[len(pend.list)-1]
		pend.remove(b)
		e.send(b)
	}
}

// send queues b on its connection. A full queue drops the batch and
// counts it: the TUN reader never waits, so a packet of a sparse flow read
// after a bulk burst is not held in the kernel's TUN queue behind it, and
// a bulk flow that outruns the connection learns it from the loss.
func (e *Engine) send(b *batch) {
	c := b.c
	q := c.out
	if b.express {
		q = c.express
	}
	c.sendMu.RLock()
	if c.retired || c.isDead() {
		c.sendMu.RUnlock()
		e.reroute(b)
		return
	}
	select {
	case q <- b:
		c.sendMu.RUnlock()
		return
	default:
	}
	c.sendMu.RUnlock()
	c.p.ctr.drop(dropQueueFull, uint64(b.pkts))
	putBatch(b)
}

// reroute hands a batch whose connection was retired or died to the peer's
// current connection: during a rotation, nothing is lost.
func (e *Engine) reroute(b *batch) {
	p := b.c.p
	if nc := p.current(); nc != nil && nc != b.c {
		b.c = nc
		e.send(b)
		return
	}
	p.ctr.drop(dropNoConn, uint64(b.pkts))
	putBatch(b)
}
