package filter

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"
)

// Later fragments toward a client carry no ports, so no flow can be told
// from them. A first fragment that passes ToClient (it has the ports: a
// flow admitted it) leaves its datagram's source and identification here,
// and the later fragments of that datagram pass for fragTimeout; a later
// fragment of anything else is dropped. The kernel cannot reassemble later
// fragments without their first, so nothing else is lost. Fragments the
// client sends are another matter: they pass only under a whole-prefix
// entry, as docs/filter.md says.
const (
	fragSlots   = 16               // datagrams in flight per client
	fragTimeout = 30 * time.Second // Linux's ipfrag_time
)

// fragCache remembers the last fragSlots first fragments that passed. An
// entry is one word, 40 bits of a seeded hash of source and identification
// and 24 of the second it was added, so any goroutine may add or look up
// without a lock: a lost race costs one datagram's later fragments.
type fragCache struct {
	seed    uint64
	next    atomic.Uint32
	entries [fragSlots]atomic.Uint64
}

const fragSecBits = 24

func (f *fragCache) key(src netip.Addr, id uint32) uint64 {
	a := src.As16()
	h := hash3(f.seed^uint64(id), binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:]), uint64(src.BitLen()))
	return (h | 1) << fragSecBits // never 0, which is an empty entry
}

func fragSec(now int64) uint64 { return uint64(now/int64(time.Second)) & (1<<fragSecBits - 1) }

func (f *fragCache) add(src netip.Addr, id uint32, now int64) {
	i := f.next.Add(1) % fragSlots
	f.entries[i].Store(f.key(src, id) | fragSec(now))
}

func (f *fragCache) has(src netip.Addr, id uint32, now int64) bool {
	k, sec := f.key(src, id), fragSec(now)
	for i := range f.entries {
		e := f.entries[i].Load()
		if age := (sec - e) & (1<<fragSecBits - 1); e>>fragSecBits == k>>fragSecBits && time.Duration(age)*time.Second <= fragTimeout {
			return true
		}
	}
	return false
}
