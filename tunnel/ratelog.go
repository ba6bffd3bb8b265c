package tunnel

import (
	"sync/atomic"
	"time"
)

// rateLog logs a per-packet problem at most once per second per reason,
// with the count since the last line.
func (e *Engine) rateLog(r dropReason, peer string) {
	slot := &e.dropLog[r]
	slot.count.Add(1)
	now := time.Now().UnixNano()
	last := slot.last.Load()
	if now-last < int64(time.Second) || !slot.last.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn("dropping packets", "peer", peer, "reason", dropNames[r], "count", slot.count.Swap(0))
}

type logSlot struct {
	last  atomic.Int64
	count atomic.Uint64
}
