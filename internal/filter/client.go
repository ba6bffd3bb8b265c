package filter

import (
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// Directory finds the client that leases an address, for client-to-client
// traffic; the tunnel's route table (internal/route) answers it. It is
// called per packet from several goroutines at once: it must neither lock
// nor allocate, and returns nil for an address no client leases.
type Directory interface {
	Client(a netip.Addr) *Client
}

// DirectoryFunc is a function that is a Directory.
type DirectoryFunc func(netip.Addr) *Client

// Client calls f.
func (f DirectoryFunc) Client(a netip.Addr) *Client { return f(a) }

// Hub is what the clients of one hub share: its tunnel addresses, the
// source of its ICMP answers, and the directory of clients. It does not
// change after NewHub.
type Hub struct {
	dir          Directory
	addr4, addr6 netip.Addr
}

// NewHub returns the hub whose own tunnel addresses are addrs (one per
// family, as in [interface].address; a family without one sends no
// answers) and whose clients dir finds (nil: clients never reach each
// other).
func NewHub(addrs []netip.Addr, dir Directory) *Hub {
	h := &Hub{dir: dir}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() {
			h.addr4 = a
		} else if a.Is6() {
			h.addr6 = a
		}
	}
	return h
}

// Client is the filter state of one connected client: its leases, its
// rights, the flows it opened and its answer budget. Its owner is the
// client's connection.
//
// Goroutines: FromClient is called by one goroutine at a time, the
// connection's reader (it alone writes the flow table). ToClient, Answer,
// SetAccess and everything read-only may be called from any goroutine, at
// once. Nothing is locked, nothing allocated per packet. A Client needs no
// closing: once its connection is gone and the directory no longer finds
// it, it is garbage.
type Client struct {
	hub            *Hub
	lease4, lease6 netip.Addr
	epoch          int64 // the now of NewClient: flows count seconds from it
	access         atomic.Pointer[Access]
	flows          atomic.Pointer[flowTable]
	frags          fragCache
	answers        limiter
}

// NewClient returns the filter of a client that leases leases (one
// address per family) and has the rights a (nil: none). now is the
// caller's clock in nanoseconds, the one it passes to every later call:
// a monotonic one, such as int64(time.Since(start)); a jump forward only
// ends idle flows early.
func (h *Hub) NewClient(leases []netip.Addr, a *Access, now int64) (*Client, error) {
	c := &Client{hub: h, epoch: now}
	for _, l := range leases {
		switch l = l.Unmap(); {
		case l.Is4() && !c.lease4.IsValid():
			c.lease4 = l
		case l.Is6() && !c.lease6.IsValid():
			c.lease6 = l
		default:
			return nil, ErrLeases
		}
	}
	if !c.lease4.IsValid() && !c.lease6.IsValid() {
		return nil, ErrLeases
	}
	seed := rand.Uint64()
	c.flows.Store(newFlowTable(seed, minFlows))
	c.frags.seed = seed ^ 0x5bd1e9955bd1e995
	c.access.Store(a)
	c.answers.tat.Store(now) // a full budget
	return c, nil
}

// SetAccess replaces the client's rights, at a reload. From then on
// FromClient allows by a; flows opened before are checked against a again
// when their next packet comes, so what a no longer allows stops at once
// both ways. Any goroutine.
func (c *Client) SetAccess(a *Access) { c.access.Store(a) }

// Access returns the client's rights in force (nil: none).
func (c *Client) Access() *Access { return c.access.Load() }

// Leases returns the client's leased addresses, IPv4 first; a family it has
// none of is left out.
func (c *Client) Leases() []netip.Addr {
	var out []netip.Addr
	for _, l := range []netip.Addr{c.lease4, c.lease6} {
		if l.IsValid() {
			out = append(out, l)
		}
	}
	return out
}

// FromClient decides on the IP packet ip that the client sent (the
// packet alone, without a virtio header; a GSO super-packet's headers
// stand for its segments), and records the flow it opens or continues.
// now is the caller's clock (see NewClient). Only the client's connection
// reader calls it. ip is read, not kept.
func (c *Client) FromClient(ip []byte, now int64) Verdict {
	i, err := packet.Parse(ip)
	if err != nil {
		return DropMalformed
	}
	if i.Src != c.lease(i.Version) {
		return DropSource
	}
	if i.ICMPError() {
		return c.fromClientError(&i, ip, now)
	}
	a := c.access.Load()
	if a != nil && a.permitsPacket(&i) {
		if k, ok := outKey(&i); ok {
			c.record(&k, &i, now, a.gen)
		}
		return Pass
	}
	// A reply to a flow the client at the destination opened toward this
	// one: its key is that client's inbound one.
	if x := c.peer(i.Dst); x != nil {
		if k, ok := inKey(&i); ok && x.hasFlow(&k, now) {
			return Pass
		}
	}
	return DropACL
}

// fromClientError decides on an ICMP error from the client: it must be
// about a packet sent to the client, go back to that packet's source, and
// the packet must be of a flow the client opened, or of one the sending
// client opened toward this one.
func (c *Client) fromClientError(i *packet.Info, ip []byte, now int64) Verdict {
	q, err := i.Quoted(ip)
	if err != nil || q.ICMPError() || q.Dst != c.lease(q.Version) || q.Src != i.Dst {
		return DropACL
	}
	if k, ok := inKey(&q); ok && c.hasFlow(&k, now) {
		return Pass
	}
	if x := c.peer(q.Src); x != nil {
		if k, ok := outKey(&q); ok && x.hasFlow(&k, now) {
			return Pass
		}
	}
	return DropACL
}

// ToClient decides on the IP packet ip on its way to the client (read
// from the TUN, or from another client): it passes when it answers a flow
// the client opened, when it belongs to a flow another client opened
// toward this one, when it is an ICMP error about a packet of such a flow
// (path MTU discovery), or when it is a later fragment of a datagram whose
// first fragment passed. now is the caller's clock. Any goroutine; ip is
// read, not kept.
func (c *Client) ToClient(ip []byte, now int64) Verdict {
	i, err := packet.Parse(ip)
	if err != nil {
		return DropMalformed
	}
	switch {
	case i.Dst != c.lease(i.Version):
		return DropACL // not this client's: the caller routed it wrongly
	case i.ICMPError():
		return c.toClientError(&i, ip, now)
	case i.Frag == packet.LaterFragment:
		if c.frags.has(i.Src, i.FragID, now) {
			return Pass
		}
		return DropACL
	}
	if k, ok := inKey(&i); ok {
		if v, ok := c.liveFlow(&k, now); ok {
			v.noteAnswer(c.sec(now), closing(&i))
			c.passFirstFragment(&i, now)
			return Pass
		}
	}
	// A flow the client at the source opened toward this one.
	if x := c.peer(i.Src); x != nil {
		if k, ok := outKey(&i); ok && x.hasFlow(&k, now) {
			c.passFirstFragment(&i, now)
			return Pass
		}
	}
	return DropACL
}

// toClientError decides on an ICMP error to the client: it must quote a
// packet the client sent, of a flow it opened or of one another client
// opened toward it.
func (c *Client) toClientError(i *packet.Info, ip []byte, now int64) Verdict {
	q, err := i.Quoted(ip)
	if err != nil || q.ICMPError() || q.Src != c.lease(q.Version) {
		return DropACL
	}
	if k, ok := outKey(&q); ok && c.hasFlow(&k, now) {
		return Pass
	}
	if x := c.peer(q.Dst); x != nil {
		if k, ok := inKey(&q); ok && x.hasFlow(&k, now) {
			return Pass
		}
	}
	return DropACL
}

// record writes the flow k of packet i, which the client sent and policy
// generation gen allowed, growing the table while a full bucket can make
// room that way.
func (c *Client) record(k *flowKey, i *packet.Info, now int64, gen uint32) {
	var flags uint8
	restart := false
	if i.Proto == packet.ProtoTCP && i.HasL4 {
		if i.TCPFlags&packet.TCPFin != 0 {
			flags |= sentFin
		}
		if i.TCPFlags&packet.TCPRst != 0 {
			flags |= sentRst
		}
		restart = i.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn
	}
	sec := c.sec(now)
	t := c.flows.Load()
	for !t.upsert(k, sec, gen, flags, restart, len(t.slots) >= MaxFlows) {
		t = t.grow(sec)
		c.flows.Store(t)
	}
}

// hasFlow reports whether the client has the live flow k.
func (c *Client) hasFlow(k *flowKey, now int64) bool {
	_, ok := c.liveFlow(k, now)
	return ok
}

// liveFlow returns the client's flow k if it is within its timeout and
// still allowed: a flow recorded under another policy is checked against
// the client's rights in force.
func (c *Client) liveFlow(k *flowKey, now int64) (flowView, bool) {
	v, ok := c.flows.Load().find(k)
	if !ok || !v.alive(c.sec(now)) {
		return v, false
	}
	a := c.access.Load()
	if a == nil {
		return v, false
	}
	if v.gen() != a.gen && !a.permits(k.remote(), k.proto(), k.remotePort(), k.meta&metaEcho != 0, true) {
		return v, false
	}
	return v, true
}

// passFirstFragment lets the later fragments of i follow it when i is a
// first fragment.
func (c *Client) passFirstFragment(i *packet.Info, now int64) {
	if i.Frag == packet.FirstFragment {
		c.frags.add(i.Src, i.FragID, now)
	}
}

// closing returns the back flags a TCP packet to the client sets.
func closing(i *packet.Info) uint8 {
	var f uint8
	if i.Proto == packet.ProtoTCP && i.HasL4 {
		if i.TCPFlags&packet.TCPFin != 0 {
			f |= backFin
		}
		if i.TCPFlags&packet.TCPRst != 0 {
			f |= backRst
		}
	}
	return f
}

// peer returns the other client that leases a, or nil.
func (c *Client) peer(a netip.Addr) *Client {
	if c.hub.dir == nil {
		return nil
	}
	if x := c.hub.dir.Client(a); x != nil && x != c {
		return x
	}
	return nil
}

// lease returns the client's lease of IP version v (4 or 6).
func (c *Client) lease(v uint8) netip.Addr {
	if v == 4 {
		return c.lease4
	}
	return c.lease6
}

// sec is now in whole seconds since the client's epoch.
func (c *Client) sec(now int64) uint32 {
	d := (now - c.epoch) / int64(time.Second)
	return uint32(min(max(d, 0), 1<<32-1))
}
