package tunnel

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// Layer 2 (TAP mode, docs/layer2.md): the engine is a learning switch
// whose ports are the device and the peers. This file holds its state and
// the hooks the shared paths call; frames.go moves the frames.

// sweepEvery is how often the engine sweeps aged MACs out of the table.
// Lookups ignore aged entries already; the sweep frees their memory and
// their peers' quota.
const sweepEvery = 30 * time.Second

// moveLines bounds the "MAC address moved" lines per second; the moves
// beyond are counted and the next line says how many were not logged.
const moveLines = 10

// localName names the local device as a port in logs: no peer is called
// that, since a peer's name is a DNS name.
const localName = "local device"

// layer2 is the switch of a TAP engine: the MAC table with its ports, the
// drops of frames read from the device, and the log of MAC moves. Every
// goroutine may use it. The methods that the shared paths call (addPort,
// flush, removePort, status) may be called on a nil *layer2, an engine
// with a TUN, and then do nothing.
type layer2 struct {
	sw    *l2.Switch[*peer]
	devCt counters // drops of frames read from the device; only its drops are used
	moves moveLog
}

func newLayer2(forwardBetweenPeers bool, log *slog.Logger) *layer2 {
	return &layer2{
		sw:    l2.New[*peer](l2.Config{ForwardBetweenPeers: forwardBetweenPeers}),
		moves: moveLog{log: log},
	}
}

// macDrops maps the switch's reasons to the drop counters.
var macDrops = [l2.NumReasons]dropReason{
	l2.Pass:              dropNone,
	l2.DropInvalidSource: dropMACSrc,
	l2.DropSpoof:         dropMACSpoof,
	l2.DropLimit:         dropMACLimit,
	l2.DropMove:          dropMACMove,
}

// addPort is the switch port of a new peer; nil with a TUN.
func (l *layer2) addPort(p *peer) *l2.Port[*peer] {
	if l == nil {
		return nil
	}
	return l.sw.AddPort(p)
}

// flush forgets the MACs learned behind p, whose connection was lost:
// frames to them are flooded until they are learned again.
func (l *layer2) flush(p *peer) {
	if l != nil {
		l.sw.Flush(p.port)
	}
}

// removePort forgets the MACs of p, removed from the configuration, for
// good: frames it still delivers teach the switch nothing.
func (l *layer2) removePort(p *peer) {
	if l != nil {
		l.sw.RemovePort(p.port)
	}
}

// sweepMACs sweeps aged MACs out of the table every sweepEvery until the
// engine closes. The engine runs it in TAP mode.
func (e *Engine) sweepMACs() {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case now := <-tick.C:
			e.l2.sw.Sweep(now.UnixNano())
		}
	}
}

// portName is a port's name in logs: its peer's name, or localName.
func portName(p *l2.Port[*peer]) string {
	if p.Local() {
		return localName
	}
	return p.ID().name
}

// moveLog logs MAC moves, at most moveLines a second. Any goroutine may
// call note; it takes no lock.
type moveLog struct {
	log     *slog.Logger
	second  atomic.Int64  // unix nanos when the current second of lines began
	lines   atomic.Int32  // lines logged in it
	skipped atomic.Uint64 // moves not logged since the last line
}

// note logs that mac moved from one port to another, at now (unix nanos).
func (m *moveLog) note(mac l2.MAC, from, to *l2.Port[*peer], now int64) {
	if s := m.second.Load(); now-s >= int64(time.Second) && m.second.CompareAndSwap(s, now) {
		m.lines.Store(0)
	}
	if m.lines.Add(1) > moveLines {
		m.skipped.Add(1)
		return
	}
	attrs := []any{"mac", mac.String(), "from", portName(from), "to", portName(to)}
	if n := m.skipped.Swap(0); n > 0 {
		attrs = append(attrs, "not_logged", n)
	}
	m.log.Info("MAC address moved", attrs...)
}

// status fills the TAP parts of st (drops of frames from the device, MACs
// learned on it) and returns the MACs learned behind each peer, sorted.
// With a TUN it does nothing and returns nil.
func (l *layer2) status(st *Status) map[*peer][]string {
	if l == nil {
		return nil
	}
	st.DeviceDrops = l.devCt.dropMap()
	macs := map[*peer][]string{}
	for _, en := range l.sw.Entries(time.Now().UnixNano()) {
		if en.Port.Local() {
			st.LocalMACs++
			continue
		}
		macs[en.Port.ID()] = append(macs[en.Port.ID()], en.MAC.String())
	}
	return macs
}
