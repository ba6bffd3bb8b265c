package tunnel

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Liveness of the packet loops, for the systemd watchdog: the TUN reader
// and each connection's reader and writer mark when they park in a
// blocking wait for input and when a pass of work begins. A loop parked,
// or in a pass younger than the watchdog's bound, is live; a loop in one
// pass for longer is stalled (stuck on a lock, a full queue or a device
// write), and the node withholds WATCHDOG=1 until it moves again.
//
// Waiting on the outside world counts as parked: the device's read, the
// socket's read, and the socket's write, which a slow or frozen peer can
// hold up until TCP_USER_TIMEOUT or the keepalive ends the connection.
// Everything between those calls is the loop's own work.

// liveEpoch is the origin of the loops' clock: time since it is read on
// the monotonic clock, so a step of the wall clock never looks like a
// stall.
var liveEpoch = time.Now()

// monoNow is the loops' clock: nanoseconds since liveEpoch, never 0.
func monoNow() int64 { return int64(time.Since(liveEpoch)) + 1 }

// loop is one packet loop's liveness record. Only the loop's goroutine
// writes it, with one atomic store and no allocation; any goroutine reads
// it.
type loop struct {
	name string       // who the loop is, in Stalled's answer; set before it runs
	busy atomic.Int64 // monoNow when the current pass began; 0 while parked
}

// park marks the loop as waiting for input.
func (l *loop) park() { l.busy.Store(0) }

// pass marks the start of a pass of work.
func (l *loop) pass() { l.busy.Store(monoNow()) }

// stalledAt reports whether, at mono time now, the loop has been in one
// pass for longer than within.
func (l *loop) stalledAt(now int64, within time.Duration) bool {
	b := l.busy.Load()
	return b != 0 && now-b > int64(within)
}

// liveness is the set of running packet loops. add and remove take its
// lock once per loop start and end, never per packet.
type liveness struct {
	tun   loop // the TUN reader
	mu    sync.Mutex
	loops map[*loop]struct{}
}

// connLoops are a connection's two packet loops.
type connLoops struct {
	reader, writer loop
}

// runLoop runs f, one packet loop called name, as a member of the set
// for as long as f runs. The loop starts in a pass; it leaves the set
// parked, so a loop that ended is never reported.
func (e *Engine) runLoop(l *loop, name string, f func()) {
	l.name = name
	l.pass()
	e.live.mu.Lock()
	if e.live.loops == nil {
		e.live.loops = map[*loop]struct{}{}
	}
	e.live.loops[l] = struct{}{}
	e.live.mu.Unlock()
	defer func() {
		e.live.mu.Lock()
		delete(e.live.loops, l)
		e.live.mu.Unlock()
		l.park()
	}()
	f()
}

// Stalled names the packet loops that, at now, have been in one pass of
// work for longer than within, sorted; none when every loop is parked
// or moving. The node sends the systemd watchdog its WATCHDOG=1 only
// while none is. now should come from time.Now (its monotonic reading is
// used). Safe for concurrent use; after Close it returns none.
func (e *Engine) Stalled(now time.Time, within time.Duration) []string {
	at := int64(now.Sub(liveEpoch)) + 1
	var out []string
	e.live.mu.Lock()
	for l := range e.live.loops {
		if l.stalledAt(at, within) {
			out = append(out, l.name)
		}
	}
	e.live.mu.Unlock()
	slices.Sort(out)
	return out
}

// loopName names one of c's loops: "reader of peer NAME (REMOTE)".
func (c *conn) loopName(kind string) string {
	return kind + " of peer " + c.p.name + " (" + c.remote() + ")"
}

// write writes b to the connection's socket with the writer parked: a
// socket that takes no data is the peer's slowness, which the keepalive
// and TCP_USER_TIMEOUT bound, not a stalled loop.
func (c *conn) write(b []byte) (int, error) {
	c.live.writer.park()
	defer c.live.writer.pass()
	return c.st.Conn.Write(b)
}
