package tunnel

import (
	"sync"

	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// Batching limits.
const (
	// batchBudget is how many packet bytes the TUN reader gathers before
	// handing a batch over, when the TUN has more: about 16 full TLS records.
	batchBudget = 256 << 10
	// frameMax is the room one packet frame may need.
	frameMax = wire.HeaderLen + netif.MaxPacket
	// batchCap is a batch buffer's size: the budget plus one frame.
	batchCap = batchBudget + frameMax
)

// batch is a run of packet frames, already framed for the stream, bound
// for one connection. Batches come from batchPool and go back to it after
// the writer has written them.
type batch struct {
	c       *conn
	express bool   // bound for the connection's express queue
	enq     int64  // unix nanos when queued, for CoDel
	buf     []byte // len batchCap, with one spare byte of capacity for the record layer
	n       int    // bytes used
	pkts    int
}

var batchPool = sync.Pool{New: func() any { return &batch{buf: make([]byte, batchCap, batchCap+1)} }}

func getBatch(c *conn, express bool) *batch {
	b := batchPool.Get().(*batch)
	b.c, b.express, b.n, b.pkts = c, express, 0, 0
	return b
}

func putBatch(b *batch) {
	b.c = nil
	batchPool.Put(b)
}

// room is the space left for frames.
func (b *batch) room() int { return len(b.buf) - b.n }

// tail is where the next frame goes.
func (b *batch) tail() []byte { return b.buf[b.n:] }

// pending holds the batches the TUN reader is filling, one per connection
// and queue; almost always one or two.
type pending struct {
	list []*batch
	last *batch // the batch the last packet went to: the next read lands in its tail
}

func (p *pending) find(c *conn, express bool) *batch {
	for _, b := range p.list {
		if b.c == c && b.express == express {
			return b
		}
	}
	return nil
}

func (p *pending) add(c *conn, express bool) *batch {
	b := getBatch(c, express)
	p.list = append(p.list, b)
	return b
}

func (p *pending) remove(b *batch) {
	for i, x := range p.list {
		if x == b {
			p.list[i] = p.list[len(p.list)-1]
			p.list[len(p.list)-1] = nil
			p.list = p.list[:len(p.list)-1]
			break
		}
	}
	if p.last == b {
		p.last = nil
	}
}
