package main

import (
	"runtime"
	"runtime/metrics"
)

// runtimeStatus is the part of status that tells how the process itself
// fares: the benchmark reads heap allocations under load from it.
type runtimeStatus struct {
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

func readRuntime() runtimeStatus {
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
	return runtimeStatus{HeapAllocObjects: u(0), HeapAllocBytes: u(1), HeapLiveBytes: u(2), GCCycles: u(3), Goroutines: runtime.NumGoroutine()}
}
