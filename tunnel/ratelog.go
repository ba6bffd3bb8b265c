package tunnel

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// dropLog logs per-packet problems at most once per second per reason,
// with the count since the last line (docs/logging.md, "Data path"). Any
// goroutine may call note; it takes no lock.
type dropLog struct {
	log   *slog.Logger
	slots [numDrops]logSlot
}

type logSlot struct {
	last  atomic.Int64 // unix nanos of the last line
	count atomic.Uint64
}

// note counts one drop of reason r from peer, and logs when a line is due.
func (d *dropLog) note(r dropReason, peer string) {
	slot := &d.slots[r]
	slot.count.Add(1)
	now := time.Now().UnixNano()
	last := slot.last.Load()
	if now-last < int64(time.Second) || !slot.last.CompareAndSwap(last, now) {
		return
	}
	d.log.Warn("dropping packets", "peer", peer, "reason", dropNames[r], "count", slot.count.Swap(0))
}
