package tunnel

import (
	"math"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// Active queue management of a connection's bulk queue: CoDel (RFC 8289)
// on the time batches wait between the TUN reader and the writer. While
// they wait longer than codelTarget for a whole codelInterval, the writer
// signals congestion on one packet per control-law interval: it marks an
// ECN-capable packet Congestion Experienced, or drops a packet that is not
// (the frame becomes padding the peer skips). One signal per interval
// makes a loss-based inner TCP back off without the bursts of loss a full
// queue would cause.
const (
	codelTarget   = 2 * time.Millisecond
	codelInterval = 100 * time.Millisecond
)

// codel is the per-connection CoDel state; only the writer touches it.
type codel struct {
	firstAbove int64 // when the sojourn time may first count as persistent; 0: below target
	dropNext   int64
	count      int
	lastCount  int
	dropping   bool
}

// signal reports whether the batch dequeued at now, after waiting
// sojourn, must carry a congestion signal.
func (q *codel) signal(now, sojourn int64, queued int) bool {
	if sojourn < int64(codelTarget) || queued == 0 {
		q.firstAbove = 0
		q.dropping = false
		return false
	}
	if q.firstAbove == 0 {
		q.firstAbove = now + int64(codelInterval)
		return false
	}
	switch {
	case q.dropping && now >= q.dropNext:
		q.count++
		q.dropNext = q.controlLaw(q.dropNext)
		return true
	case !q.dropping && now >= q.firstAbove:
		q.dropping = true
		if delta := q.count - q.lastCount; delta > 1 && now-q.dropNext < 16*int64(codelInterval) {
			q.count = delta
		} else {
			q.count = 1
		}
		q.lastCount = q.count
		q.dropNext = q.controlLaw(now)
		return true
	}
	return false
}

func (q *codel) controlLaw(t int64) int64 {
	return t + int64(float64(codelInterval)/math.Sqrt(float64(q.count)))
}

// congest signals congestion on the first packet of b: CE if it is
// ECN-capable, otherwise the frame is turned into padding. It reports
// whether the packet was dropped.
func congest(b *batch) (dropped bool) {
	if b.n < wire.HeaderLen+packet.VirtioHdrLen+packet.IPv4HdrLen || wire.Type(b.buf[0]) != wire.TypePacket {
		return false
	}
	if packet.MarkCE(b.buf[wire.HeaderLen+packet.VirtioHdrLen : b.n]) {
		return false
	}
	b.buf[0] = byte(wire.TypePad)
	return true
}
