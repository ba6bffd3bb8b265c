// Package route maps IP prefixes to values by longest match: the tunnel's
// routing by destination, with thousands of leased client addresses (/32
// and /128) beside the site peers' allowed_ips, and the lookup of the
// client that leases an address (internal/filter's Directory).
//
// A Table is a multibit trie (github.com/gaissmai/bart's Fast) behind an
// atomic pointer: readers never lock and never wait, and each change
// publishes a new trie that shares every node it did not touch with the
// previous one (copy-on-write along the prefix's path), so adding or
// removing a client costs about ten microseconds whatever the table's size,
// not a rebuild. docs/filter.md has the measured figures.
package route

import (
	"iter"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"
)

// Table maps prefixes to values of type V, which the table treats as
// opaque and compares with == (Remove removes a prefix only while it still
// maps to the value given). The zero Table is empty and ready to use; it
// must not be copied after first use.
//
// Lookup, Get, Len and All may run concurrently with each other and with
// one change at a time: they read the trie published last, without a lock.
// Changes (Add, Remove, Reset) serialise on a mutex of their own and never
// make a reader wait. Values are stored as given; a V that points to
// mutable data is the caller's to synchronise.
type Table[V comparable] struct {
	mu  sync.Mutex // serialises changes
	cur atomic.Pointer[bart.Fast[V]]
}

// load returns the trie in force: an empty one for a zero Table.
func (t *Table[V]) load() *bart.Fast[V] {
	if p := t.cur.Load(); p != nil {
		return p
	}
	return new(bart.Fast[V])
}

// Lookup returns the value of the longest prefix that contains a, and
// whether there is one. It allocates nothing. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is looked up as the IPv4 address.
func (t *Table[V]) Lookup(a netip.Addr) (V, bool) {
	p := t.cur.Load()
	if p == nil {
		var zero V
		return zero, false
	}
	return p.Lookup(a.Unmap())
}

// Snapshot returns the table as it is now, unchanged by later changes:
// for several lookups that must agree with each other (a batch of packets,
// both leases of a client). It is a pointer's copy.
func (t *Table[V]) Snapshot() Snapshot[V] { return Snapshot[V]{t.load()} }

// Snapshot is a table frozen at one moment. Its zero value is empty.
type Snapshot[V comparable] struct{ trie *bart.Fast[V] }

// Lookup is Table.Lookup on the snapshot.
func (s Snapshot[V]) Lookup(a netip.Addr) (V, bool) {
	if s.trie == nil {
		var zero V
		return zero, false
	}
	return s.trie.Lookup(a.Unmap())
}

// Get returns the value of exactly the prefix pfx (not a longest match).
func (t *Table[V]) Get(pfx netip.Prefix) (V, bool) {
	return t.load().Get(pfx.Masked())
}

// Len returns the number of prefixes in the table.
func (t *Table[V]) Len() int { return t.load().Size() }

// All yields every prefix and its value, IPv4 first, each family in
// prefix order, from the trie in force when All was called.
func (t *Table[V]) All() iter.Seq2[netip.Prefix, V] { return t.load().AllSorted() }

// Add maps each of prefixes to v, replacing what they mapped to, and
// publishes the result at once: a reader sees all of them or none. The cost
// is that of copying the trie nodes on each prefix's path (about ten
// microseconds each), whatever the table's size. Invalid prefixes are
// skipped; host bits are cleared.
func (t *Table[V]) Add(prefixes []netip.Prefix, v V) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.load()
	for _, p := range prefixes {
		next = next.InsertPersist(p, v)
	}
	t.cur.Store(next)
}

// Remove deletes each of prefixes that still maps to v, and publishes the
// result at once. A prefix that maps to another value by now (a client that
// reconnected and took its lease again under a new connection) is left as
// it is, so the old connection's clean-up cannot undo the new one's Add.
func (t *Table[V]) Remove(prefixes []netip.Prefix, v V) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.load()
	for _, p := range prefixes {
		if got, ok := next.Get(p.Masked()); ok && got == v {
			next = next.DeletePersist(p)
		}
	}
	t.cur.Store(next)
}

// Reset replaces the whole table with the entries that fill yields and
// publishes them at once: for a reload that changes many prefixes, where a
// full build (about a millisecond for 10,000 entries) beats one copy per
// change. A prefix yielded twice keeps its last value. fill runs under the
// table's change lock, so an Add that a caller makes after registering a
// client where fill will see it is never lost: either fill yields the
// client, or the Add comes after Reset. fill must not call the table's
// changing methods.
func (t *Table[V]) Reset(fill iter.Seq2[netip.Prefix, V]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := new(bart.Fast[V])
	for p, v := range fill {
		next.Insert(p, v)
	}
	t.cur.Store(next)
}
