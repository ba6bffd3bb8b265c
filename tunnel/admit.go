package tunnel

import (
	"net/netip"
	"sync"
)

// Limits on inbound handshakes in progress (docs/protocol.md, "Limits on
// the listening side"): maxHandshakesPerIP keeps one host holding
// connections open from using up maxHandshakes.
const (
	maxHandshakes      = 64
	maxHandshakesPerIP = 8
)

// admission counts the inbound handshakes in progress, in all and per
// remote address, and refuses one over either limit. Methods are safe for
// concurrent use.
type admission struct {
	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// take takes a handshake slot for ip, if one is free; the caller releases
// it when the handshake ends.
func (a *admission) take(ip netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.total >= maxHandshakes || a.perIP[ip] >= maxHandshakesPerIP {
		return false
	}
	if a.perIP == nil {
		a.perIP = map[netip.Addr]int{}
	}
	a.total++
	a.perIP[ip]++
	return true
}

// release gives back a slot take gave for ip.
func (a *admission) release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if a.perIP[ip]--; a.perIP[ip] == 0 {
		delete(a.perIP, ip)
	}
}

// inProgress is the number of handshakes holding a slot.
func (a *admission) inProgress() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}
