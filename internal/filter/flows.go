package filter

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// The flow table: the flows a client opened, so that what comes back to it
// can be told from what a LAN host tries to open (docs/filter.md).
//
// One table per client, a power of two of 8-slot buckets (set-associative,
// no probing chains, no tombstones). A flow lives in the bucket its key
// hashes to, with a seed of the table's own. It starts at 64 slots and
// doubles, keeping its seed, when a new flow finds its bucket full, up to
// MaxFlows; a table at MaxFlows evicts the least valuable flow of the
// bucket: one never answered before one answered, the longest idle first.
// Doubling with the same seed splits each bucket into two, so moving the
// flows over never overflows one.
//
// Concurrency: one writer, the client's own ingress (FromClient), which
// alone creates, refreshes and removes flows, and any number of readers
// (ToClient toward this client; FromClient and ToClient of other clients
// checking client-to-client traffic), which take no lock. A slot is a
// seqlock: the writer makes seq odd, rewrites the slot, makes it even
// again; a reader keeps what it read only if seq was the same even number
// before and after. Every field is an atomic word, so the race detector
// sees no race. Readers report what they learn of a flow (a reply came, the
// remote end closed) in the slot's back word with compare-and-swap, tagged
// with the seq they read, so a flow that took the slot since never inherits
// it. The table pointer itself is atomic: a grown table is built aside and
// published, and a reader still on the old one sees a consistent past.

// MaxFlows is the most flows one client's table holds (48 bytes each).
const MaxFlows = 4096

const (
	bucketWays = 8
	minFlows   = 64
	seqRetries = 4 // a reader that sees a slot rewritten this often counts it a miss
)

// Idle timeouts, from the last packet either way (docs/filter.md has the
// reasons). A flow a reply has come back on is "answered".
const (
	tcpTimeout           = 2*time.Hour + 4*time.Minute // answered; RFC 5382 REQ-5's least
	tcpUnansweredTimeout = 2 * time.Minute             // conntrack's SYN_SENT
	tcpClosingTimeout    = 2 * time.Minute             // after a FIN either way: conntrack's TIME_WAIT
	tcpResetTimeout      = 10 * time.Second            // after a RST either way: conntrack's CLOSE
	udpTimeout           = 3 * time.Minute             // answered; RFC 4787 REQ-5 asks for at least 2
	udpUnansweredTimeout = 30 * time.Second            // conntrack's UDP timeout
	echoTimeout          = 30 * time.Second            // conntrack's ICMP timeout
	otherTimeout         = 10 * time.Minute            // conntrack's generic timeout
)

// Bits of a flow key's meta word.
const (
	metaUsed = 1 << 63
	metaV6   = 1 << 62
	metaEcho = 1 << 61
)

// What the owner writes in a slot's seen word: the second of the client's
// last packet (high 32 bits), the policy generation it was allowed under
// (24 bits) and these flags (low 8).
const (
	sentFin = 1 << iota
	sentRst
)

// genMask keeps the 24 bits of a policy generation that a flow stores.
const genMask = 1<<24 - 1

// What readers write in a slot's back word: the slot's seq (24 bits, tag),
// these flags (8) and the second of the last reply (low 32).
const (
	backAnswered = 1 << iota
	backFin
	backRst
)

// flowKey names a flow from its client's side: the remote address, the
// protocol, the client's and the remote port (an echo's identifier as the
// client's port), and whether it is an echo.
type flowKey struct {
	hi, lo uint64 // the remote address, IPv4 in its IPv4-mapped form
	meta   uint64 // metaUsed | metaV6 | metaEcho | proto<<32 | local<<16 | remote
}

func makeKey(remote netip.Addr, proto uint8, local, remotePort uint16, echo bool) flowKey {
	a := remote.As16()
	k := flowKey{
		hi:   binary.BigEndian.Uint64(a[:8]),
		lo:   binary.BigEndian.Uint64(a[8:]),
		meta: metaUsed | uint64(proto)<<32 | uint64(local)<<16 | uint64(remotePort),
	}
	if !remote.Is4() {
		k.meta |= metaV6
	}
	if echo {
		k.meta |= metaEcho
	}
	return k
}

func (k *flowKey) proto() uint8 { return uint8(k.meta >> 32) }

// outKey is the key of the flow that packet i, sent by the client, belongs
// to; ok is false when i cannot open or continue a flow: an ICMP error, an
// echo reply, a fragment without its transport header.
func outKey(i *packet.Info) (k flowKey, ok bool) {
	switch {
	case i.ICMPError(), i.EchoReply(), i.Frag == packet.LaterFragment:
		return k, false
	case i.EchoRequest():
		return makeKey(i.Dst, i.Proto, i.EchoID, 0, true), true
	case i.HasL4 && (i.Proto == packet.ProtoTCP || i.Proto == packet.ProtoUDP):
		return makeKey(i.Dst, i.Proto, i.SrcPort, i.DstPort, false), true
	}
	return makeKey(i.Dst, i.Proto, 0, 0, false), true // other protocols, other ICMP
}

// inKey is the key of the flow that packet i, sent to the client, answers;
// ok is false when i answers none: an ICMP error (judged by its quote), an
// echo request, a fragment without its transport header.
func inKey(i *packet.Info) (k flowKey, ok bool) {
	switch {
	case i.ICMPError(), i.EchoRequest(), i.Frag == packet.LaterFragment:
		return k, false
	case i.EchoReply():
		return makeKey(i.Src, i.Proto, i.EchoID, 0, true), true
	case i.HasL4 && (i.Proto == packet.ProtoTCP || i.Proto == packet.ProtoUDP):
		return makeKey(i.Src, i.Proto, i.DstPort, i.SrcPort, false), true
	}
	return makeKey(i.Src, i.Proto, 0, 0, false), true
}

// flowSlot is one flow. seq, hi, lo, meta and seen are written by the
// owner only; back by readers, with compare-and-swap.
type flowSlot struct {
	seq        atomic.Uint32
	hi, lo     atomic.Uint64
	meta       atomic.Uint64
	seen, back atomic.Uint64
}

// flowView is what a reader read of a slot, consistently.
type flowView struct {
	slot *flowSlot
	seq  uint32
	meta uint64
	seen uint64
	back uint64
}

type flowTable struct {
	seed  uint64
	mask  uint64 // buckets - 1
	slots []flowSlot
}

func newFlowTable(seed uint64, slots int) *flowTable {
	return &flowTable{seed: seed, mask: uint64(slots/bucketWays - 1), slots: make([]flowSlot, slots)}
}

// bucket returns the slots k may live in.
func (t *flowTable) bucket(k *flowKey) []flowSlot {
	b := int(hash3(t.seed, k.meta, k.hi, k.lo)&t.mask) * bucketWays
	return t.slots[b : b+bucketWays : b+bucketWays]
}

// find returns the flow of key k, read consistently; any goroutine.
func (t *flowTable) find(k *flowKey) (flowView, bool) {
	b := t.bucket(k)
	for i := range b {
		s := &b[i]
		if s.meta.Load() != k.meta {
			continue
		}
		for range seqRetries {
			seq := s.seq.Load()
			if seq&1 != 0 {
				continue
			}
			v := flowView{slot: s, seq: seq, meta: s.meta.Load(), seen: s.seen.Load(), back: s.back.Load()}
			hi, lo := s.hi.Load(), s.lo.Load()
			if s.seq.Load() != seq {
				continue
			}
			if v.meta == k.meta && hi == k.hi && lo == k.lo {
				return v, true
			}
			break
		}
	}
	return flowView{}, false
}

// ownView reads a slot for its owner, who alone rewrites it.
func ownView(s *flowSlot) flowView {
	return flowView{slot: s, seq: s.seq.Load(), meta: s.meta.Load(), seen: s.seen.Load(), back: s.back.Load()}
}

// answered returns the back word's flags and second when they belong to
// the flow read, not to one that held the slot before.
func (v *flowView) answered() (flags uint8, sec uint32, ok bool) {
	if uint32(v.back>>40) != v.seq&0xffffff {
		return 0, 0, false
	}
	return uint8(v.back >> 32), uint32(v.back), true
}

// alive reports whether the flow is within its idle timeout at second now.
func (v *flowView) alive(now uint32) bool {
	last, sent := uint32(v.seen>>32), uint8(v.seen)
	back, at, ok := v.answered()
	if ok && at > last {
		last = at
	}
	if now <= last {
		return true
	}
	return time.Duration(now-last)*time.Second <= v.timeout(sent, back)
}

func (v *flowView) timeout(sent, back uint8) time.Duration {
	answered := back&backAnswered != 0
	switch uint8(v.meta >> 32) {
	case packet.ProtoTCP:
		switch {
		case sent&sentRst != 0 || back&backRst != 0:
			return tcpResetTimeout
		case sent&sentFin != 0 || back&backFin != 0:
			return tcpClosingTimeout
		case answered:
			return tcpTimeout
		}
		return tcpUnansweredTimeout
	case packet.ProtoUDP:
		if answered {
			return udpTimeout
		}
		return udpUnansweredTimeout
	}
	if v.meta&metaEcho != 0 {
		return echoTimeout
	}
	return otherTimeout
}

// gen is the policy generation the flow was last allowed under.
func (v *flowView) gen() uint32 { return uint32(v.seen>>8) & genMask }

// noteAnswer records, from a reader, that a reply of the flow passed at
// second now, setting flags (backFin, backRst). It writes only when that
// changes the word, and gives up to a concurrent writer.
func (v *flowView) noteAnswer(now uint32, flags uint8) {
	old, _, _ := v.answered()
	word := uint64(v.seq&0xffffff)<<40 | uint64(old|flags|backAnswered)<<32 | uint64(now)
	if word != v.back {
		v.slot.back.CompareAndSwap(v.back, word)
	}
}

// upsert records, for the owner, a packet of flow k the client sent at
// second now, allowed under policy generation gen, with flags (sentFin,
// sentRst) to add; restart (a SYN) starts the flow afresh. When the bucket
// has no room it evicts if evict is set and reports false otherwise.
func (t *flowTable) upsert(k *flowKey, now, gen uint32, flags uint8, restart, evict bool) bool {
	var free, victim *flowSlot
	var victimRank uint64
	for i, b := 0, t.bucket(k); i < bucketWays; i++ {
		s := &b[i]
		meta := s.meta.Load()
		if meta == 0 {
			free = cmp.Or(free, s)
			continue
		}
		v := ownView(s)
		alive := v.alive(now)
		if meta == k.meta && s.hi.Load() == k.hi && s.lo.Load() == k.lo {
			if !alive || restart {
				t.write(s, k, now, gen, flags)
				return true
			}
			seen := uint64(now)<<32 | uint64(gen)<<8 | uint64(uint8(v.seen)|flags)
			if seen != v.seen {
				s.seen.Store(seen)
			}
			return true
		}
		if !alive {
			free = cmp.Or(free, s)
			continue
		}
		if r := v.rank(); victim == nil || r < victimRank {
			victim, victimRank = s, r
		}
	}
	switch {
	case free != nil:
		t.write(free, k, now, gen, flags)
	case evict:
		t.write(victim, k, now, gen, flags)
	default:
		return false
	}
	return true
}

// rank orders flows for eviction, the lowest first: unanswered before
// answered, then by last activity.
func (v *flowView) rank() uint64 {
	last := uint32(v.seen >> 32)
	back, at, ok := v.answered()
	if ok && at > last {
		last = at
	}
	if back&backAnswered != 0 {
		return 1<<32 | uint64(last)
	}
	return uint64(last)
}

// write puts flow k into slot s, as the seqlock's writer.
func (t *flowTable) write(s *flowSlot, k *flowKey, now, gen uint32, flags uint8) {
	seq := s.seq.Load()
	s.seq.Store(seq + 1)
	s.meta.Store(k.meta)
	s.hi.Store(k.hi)
	s.lo.Store(k.lo)
	s.seen.Store(uint64(now)<<32 | uint64(gen)<<8 | uint64(flags))
	s.seq.Store(seq + 2)
}

// grow returns a table of twice the slots with t's live flows, for the
// owner to publish. Each of t's buckets splits into two of the new table's,
// so no bucket overflows.
func (t *flowTable) grow(now uint32) *flowTable {
	n := newFlowTable(t.seed, 2*len(t.slots))
	for i := range t.slots {
		v := ownView(&t.slots[i])
		if v.meta == 0 || !v.alive(now) {
			continue
		}
		k := flowKey{hi: t.slots[i].hi.Load(), lo: t.slots[i].lo.Load(), meta: v.meta}
		for j, b := 0, n.bucket(&k); j < bucketWays; j++ {
			if d := &b[j]; d.meta.Load() == 0 {
				d.meta.Store(k.meta)
				d.hi.Store(k.hi)
				d.lo.Store(k.lo)
				d.seen.Store(v.seen)
				if flags, at, ok := v.answered(); ok { // tagged with the new slot's seq, 0
					d.back.Store(uint64(flags)<<32 | uint64(at))
				}
				break
			}
		}
	}
	return n
}

// hash3 mixes three words under seed (splitmix64's finaliser each step).
func hash3(seed, a, b, c uint64) uint64 {
	return mix(mix(mix(seed^a)^b) ^ c)
}

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// remote returns the flow's remote address.
func (k *flowKey) remote() netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], k.hi)
	binary.BigEndian.PutUint64(a[8:], k.lo)
	if k.meta&metaV6 != 0 {
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom16(a).Unmap()
}

// remotePort returns the flow's remote port (0 for an echo).
func (k *flowKey) remotePort() uint16 { return uint16(k.meta) }
