// Package status is the object a running node reports about itself: the
// reply to the control socket's status request and what
// `tlsvpn status --json` prints. docs/status.md is its contract; the JSON
// names here are that contract's.
//
// cmd/tlsvpn fills a Node and prints it; the integration tests and the
// benchmark decode the same type, so they read what a user reads.
package status

import (
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/tlsvpn/tlsvpn/tunnel"
)

// Version is the version of the status object: bumped when a field changes
// meaning or disappears (docs/status.md).
const Version = 1

// Node is the status of one running node.
type Node struct {
	Version    int        `json:"version"`
	Node       string     `json:"node"`
	Config     string     `json:"config"`
	Interface  string     `json:"interface"`
	Mode       string     `json:"mode"`             // "tun" or "tap": what the interface carries
	Bridge     string     `json:"bridge,omitempty"` // TAP mode: the bridge the interface is a port of
	Listen     string     `json:"listen,omitempty"`
	PID        int        `json:"pid"`
	Started    time.Time  `json:"started"`
	LastReload *time.Time `json:"last_reload,omitempty"`
	ReloadErr  string     `json:"reload_error,omitempty"`
	Routes     []string   `json:"routes"`
	Warnings   []string   `json:"warnings"`
	// HandshakeFailures counts the handshakes refused since start, by the
	// reasons of docs/logging.md; every reason is present.
	HandshakeFailures map[string]uint64 `json:"handshake_failures"`
	Runtime           Runtime           `json:"runtime"`
	Tunnel            tunnel.Status     `json:"tunnel"`
}

// Runtime is the part of status that tells how the process itself fares:
// the benchmark reads heap allocations under load from it.
type Runtime struct {
	HeapAllocObjects uint64 `json:"heap_alloc_objects"` // cumulative heap allocations
	HeapAllocBytes   uint64 `json:"heap_alloc_bytes"`   // cumulative bytes allocated
	HeapLiveBytes    uint64 `json:"heap_live_bytes"`
	GCCycles         uint64 `json:"gc_cycles"`
	Goroutines       int    `json:"goroutines"`
}

var runtimeSamples = []string{
	"/gc/heap/allocs:objects",
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/gc/cycles/total:gc-cycles",
}

// ReadRuntime reads the calling process's Runtime figures. It is safe for
// concurrent use.
func ReadRuntime() Runtime {
	s := make([]metrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	u := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	return Runtime{HeapAllocObjects: u(0), HeapAllocBytes: u(1), HeapLiveBytes: u(2), GCCycles: u(3), Goroutines: runtime.NumGoroutine()}
}
