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
			if wait {
				e.live.tun.park()
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
				e.live.tun.pass()
			}
			wait = false
			total += n
			e.fromDevice(&pend, buf[:wire.HeaderLen+n], flows, now, timer)
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
	p := e.peers.route(hdr.Dst)
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
	e.queue(pend, c, frame, flows.express(pkt, hdr, now), timer)
}

// queue puts frame, a whole stream frame (header and payload), into pend's
// batch for c and its express or bulk queue, first handing that batch to
// c when the frame does not fit. A frame the caller read in place into
// pend.last's tail only moves the batch's end. The TUN reader calls it,
// and a connection's reader relaying frames, each with its own pend.
func (e *Engine) queue(pend *pending, c *conn, frame []byte, express bool, timer *time.Timer) {
	if b := pend.last; b != nil && b.c == c && !express && !b.express && b.room() >= len(frame) && &b.buf[b.n] == &frame[0] {
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
