package l2

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Table internals.
const (
	shardBits = 8
	numShards = 1 << shardBits
	// refreshGrain is how stale an entry's last-seen time may get before a
	// frame from it stores a new one: most frames only read the entry, so
	// the cache line it lives on is not bounced between the goroutines
	// that learn a MAC and those that look it up.
	refreshGrain = int64(50 * time.Millisecond)
	// sweepEvery bounds how often a port at its limit sweeps the table.
	sweepEvery = int64(time.Second)

	ageing   = int64(Ageing)
	holdDown = int64(HoldDown)
)

// entry is one learned MAC: the port that owns it and when it was last
// seen there. Readers use its atomics without a lock; its owner changes
// only under table.mu.
type entry[P any] struct {
	owner atomic.Pointer[Port[P]]
	seen  atomic.Int64
}

// shardMap is keyed by the MAC as an integer (see key): the runtime's
// 64-bit map fast path hashes it several times faster than a [6]byte.
type shardMap[P any] = map[uint64]*entry[P]

// key packs a MAC into the low 48 bits of an integer; mac inverts it.
func key(m MAC) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 |
		uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

func mac(k uint64) MAC {
	return MAC{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
}

// table maps MACs to entries. It is cut into shards, each an immutable map
// replaced whole (copy on write) under mu when a MAC joins or leaves it;
// readers load a shard's map atomically and never lock. Sharding keeps
// each copy small: a table of 10,000 MACs copies about 40 per change.
// The shard of a MAC is a multiplicative hash with a random odd seed, so
// a peer cannot aim every MAC it invents at one shard.
type table[P any] struct {
	seed   uint64
	shards [numShards]atomic.Pointer[shardMap[P]]

	mu        sync.Mutex // serializes every change of membership or owner, and Port.learned
	lastSweep int64      // guarded by mu
	swept     bool       // guarded by mu: lastSweep is set
}

func (t *table[P]) init() {
	t.seed = rand.Uint64() | 1
	for i := range t.shards {
		t.shards[i].Store(&shardMap[P]{})
	}
}

func (t *table[P]) shard(k uint64) *atomic.Pointer[shardMap[P]] {
	return &t.shards[(k*t.seed)>>(64-shardBits)]
}

func (t *table[P]) lookup(k uint64) *entry[P] { return (*t.shard(k).Load())[k] }

// owner returns the port a unicast destination lives on, or nil when dst
// is a group address, unknown or aged out.
func (t *table[P]) owner(dst MAC, now int64) *Port[P] {
	if dst.IsGroup() {
		return nil
	}
	e := t.lookup(key(dst))
	if e == nil || now-e.seen.Load() >= ageing {
		return nil
	}
	return e.owner.Load()
}

// learn records that a frame from src arrived on p. It returns the reason
// to drop the frame, or Pass; and, when src moved to p from another port,
// that port.
func (t *table[P]) learn(p *Port[P], src MAC, now int64) (Reason, *Port[P]) {
	k := key(src)
	if e := t.lookup(k); e != nil {
		if r, done := check(e, p, now); done {
			return r, nil
		}
	}
	return t.learnLocked(p, k, now)
}

// check decides for a source already in the table while its owner stays:
// a refresh, or a drop. done false means the entry is free for p to take,
// aged out or silent on its port for HoldDown, which needs the lock.
func check[P any](e *entry[P], p *Port[P], now int64) (r Reason, done bool) {
	owner, age := e.owner.Load(), now-e.seen.Load()
	switch {
	case owner == p:
		if age >= refreshGrain {
			e.seen.Store(now)
		}
		return Pass, true
	case age >= ageing:
		return Pass, false
	case owner.local && !p.local:
		return DropSpoof, true
	case age < holdDown:
		return DropMove, true
	}
	return Pass, false
}

func (t *table[P]) learnLocked(p *Port[P], k uint64, now int64) (Reason, *Port[P]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.detached {
		return Pass, nil
	}
	if p.learned >= p.limit() {
		t.reclaim(now)
	}
	sh := t.shard(k)
	m := *sh.Load()
	e := m[k]
	if e != nil {
		if r, done := check(e, p, now); done {
			return r, nil
		}
	}
	if p.learned >= p.limit() {
		if p.local {
			return Pass, nil // forwarded, not learned
		}
		return DropLimit, nil
	}
	p.learned++
	if e != nil { // take over an aged entry, or move a live one
		old := e.owner.Load()
		old.learned--
		live := now-e.seen.Load() < ageing
		e.seen.Store(now)
		e.owner.Store(p)
		if live {
			return Pass, old
		}
		return Pass, nil
	}
	e = &entry[P]{}
	e.seen.Store(now)
	e.owner.Store(p)
	nm := make(shardMap[P], len(m)+1)
	maps.Copy(nm, m)
	nm[k] = e
	sh.Store(&nm)
	return Pass, nil
}

// reclaim sweeps aged entries, at most once per sweepEvery. t.mu is held.
func (t *table[P]) reclaim(now int64) {
	if t.swept && now-t.lastSweep < sweepEvery && now >= t.lastSweep {
		return
	}
	t.sweepLocked(now)
}

func (t *table[P]) sweep(now int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweepLocked(now)
}

// sweepLocked drops every entry aged out at now. t.mu is held.
func (t *table[P]) sweepLocked(now int64) int {
	t.lastSweep, t.swept = now, true
	return t.remove(func(e *entry[P]) bool { return now-e.seen.Load() >= ageing })
}

// forget drops every entry owned by p and, with retire, keeps p from
// learning again.
func (t *table[P]) forget(p *Port[P], retire bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if retire {
		p.detached = true
	}
	t.remove(func(e *entry[P]) bool { return e.owner.Load() == p })
}

// remove drops the entries for which gone holds, copying only the shards
// that change, and returns how many it dropped. t.mu is held.
func (t *table[P]) remove(gone func(*entry[P]) bool) int {
	n := 0
	for i := range t.shards {
		m := *t.shards[i].Load()
		drop := 0
		for _, e := range m {
			if gone(e) {
				drop++
			}
		}
		if drop == 0 {
			continue
		}
		nm := make(shardMap[P], len(m)-drop)
		for k, e := range m {
			if gone(e) { // asked again: a frame may have refreshed it meanwhile
				e.owner.Load().learned--
				n++
				continue
			}
			nm[k] = e
		}
		t.shards[i].Store(&nm)
	}
	return n
}

// entries lists the live entries ordered by MAC.
func (t *table[P]) entries(now int64) []Entry[P] {
	var list []Entry[P]
	for i := range t.shards {
		for k, e := range *t.shards[i].Load() {
			if age := now - e.seen.Load(); age < ageing {
				list = append(list, Entry[P]{MAC: mac(k), Port: e.owner.Load(), Age: time.Duration(max(age, 0))})
			}
		}
	}
	slices.SortFunc(list, func(a, b Entry[P]) int { return bytes.Compare(a.MAC[:], b.MAC[:]) })
	return list
}
