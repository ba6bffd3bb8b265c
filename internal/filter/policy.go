package filter

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// Policy is the compiled allow lists of every [[group]] of one
// configuration: what Compile builds once per load and the caller swaps in
// whole at a reload. It hands out one Access per distinct set of groups,
// shared by every client with that set.
//
// A Policy is safe for concurrent use. Access takes a mutex and may
// allocate: it is for connection set-up and reloads, never per packet.
type Policy struct {
	gen    uint32 // tells flows recorded under another policy (see flowSlot.seen)
	groups map[string][]acl.Rule
	common []acl.Rule

	mu   sync.Mutex
	sets map[string]*Access // by the sorted, known group names joined with NUL
}

// generation numbers policies; 0 is never handed out.
var generation atomic.Uint32

// Compile builds the policy of groups (a group's name to its allow
// entries) plus common, entries every client gets whatever its groups
// (DNSRules for the pushed DNS servers). The rules are kept, not copied:
// the caller must not change them afterwards.
func Compile(groups map[string][]acl.Rule, common []acl.Rule) *Policy {
	gen := generation.Add(1) & genMask
	if gen == 0 {
		gen = generation.Add(1) & genMask
	}
	return &Policy{gen: gen, groups: groups, common: common, sets: map[string]*Access{}}
}

// DNSRules returns the entries that let clients reach the pushed DNS
// servers: udp/53 and tcp/53 to each of servers.
func DNSRules(servers []netip.Addr) []acl.Rule {
	var out []acl.Rule
	for _, s := range servers {
		host := netip.PrefixFrom(s.Unmap(), s.Unmap().BitLen())
		port := []acl.PortRange{{First: 53, Last: 53}}
		out = append(out, acl.Rule{Prefix: host, Proto: acl.UDP, Ports: port}, acl.Rule{Prefix: host, Proto: acl.TCP, Ports: port})
	}
	return out
}

// Access returns the rights of a client in groups, the names its
// certificate carries: the union of the allow entries of those that are in
// the policy (others are ignored) and the common entries. It returns nil
// when none of groups is in the policy: such a client may not connect, and
// a connected one is to be cut.
func (p *Policy) Access(groups []string) *Access {
	var known []string
	for _, g := range groups {
		if _, ok := p.groups[g]; ok {
			known = append(known, g)
		}
	}
	if len(known) == 0 {
		return nil
	}
	slices.Sort(known)
	known = slices.Compact(known)
	key := strings.Join(known, "\x00") // group names are printable (acl.CheckGroupName)
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.sets[key]; a != nil {
		return a
	}
	rules := slices.Clone(p.common)
	for _, g := range known {
		rules = append(rules, p.groups[g]...)
	}
	a := &Access{gen: p.gen, groups: known, table: compileRules(rules)}
	p.sets[key] = a
	return a
}

// Access is what a client with one set of groups may send: an immutable
// trie from destination prefix to the protocols and ports allowed there.
// It is shared by clients and read without a lock.
type Access struct {
	gen    uint32
	groups []string
	table  *bart.Fast[*grant]
}

// Groups returns the names of the groups the access is made of, sorted.
// The slice is shared: do not change it.
func (a *Access) Groups() []string { return a.groups }

// grant is what a prefix allows. In the compiled trie each prefix's grant
// includes those of every prefix that contains it, so the longest match
// alone answers: the entries containing an address form a chain, whose
// longest member is the match.
type grant struct {
	all      bool  // a whole-prefix entry: every protocol, fragments too
	echo     bool  // icmp: echo requests (and their replies, by the flow table)
	tcp, udp ports // nil: none
}

func (g *grant) add(o *grant) {
	g.all = g.all || o.all
	g.echo = g.echo || o.echo
	g.tcp = g.tcp.union(o.tcp)
	g.udp = g.udp.union(o.udp)
}

// compileRules builds the trie of rules.
func compileRules(rules []acl.Rule) *bart.Fast[*grant] {
	own := new(bart.Fast[*grant]) // each prefix's own entries
	for _, r := range rules {
		g, ok := own.Get(r.Prefix)
		if !ok {
			g = new(grant)
			own.Insert(r.Prefix, g)
		}
		g.add(ruleGrant(r))
	}
	out := new(bart.Fast[*grant])
	for pfx := range own.All() {
		g := new(grant)
		for _, sup := range own.Supernets(pfx) { // pfx itself too
			g.add(sup)
		}
		out.Insert(pfx, g)
	}
	return out
}

func ruleGrant(r acl.Rule) *grant {
	var ps ports
	if r.Proto == acl.TCP || r.Proto == acl.UDP {
		ps = ports{{0, 0xffff}} // no list: every port, 0 too
		if r.Ports != nil {
			ps = nil
			for _, p := range r.Ports {
				ps = append(ps, span{p.First, p.Last})
			}
			ps = ps.union(nil)
		}
	}
	switch r.Proto {
	case acl.TCP:
		return &grant{tcp: ps}
	case acl.UDP:
		return &grant{udp: ps}
	case acl.ICMP:
		return &grant{echo: true}
	}
	return &grant{all: true}
}

// permits reports whether a client with this access may send to dst a
// packet of protocol proto: for TCP and UDP to port, for ICMP and ICMPv6
// an echo request when echo is set; l4 false (a fragment without its
// transport header) needs a whole-prefix entry. It allocates nothing.
func (a *Access) permits(dst netip.Addr, proto uint8, port uint16, echo, l4 bool) bool {
	g, ok := a.table.Lookup(dst)
	switch {
	case !ok:
		return false
	case g.all:
		return true
	case !l4:
		return false
	}
	switch proto {
	case packet.ProtoTCP:
		return g.tcp.has(port)
	case packet.ProtoUDP:
		return g.udp.has(port)
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return g.echo && echo
	}
	return false
}

// permitsPacket is permits for the packet i sends.
func (a *Access) permitsPacket(i *packet.Info) bool {
	return a.permits(i.Dst, i.Proto, i.DstPort, i.EchoRequest(), i.HasL4 && i.Frag != packet.LaterFragment)
}

// span is an inclusive range of ports.
type span struct{ lo, hi uint16 }

// ports is a set of ports: ranges sorted and neither overlapping nor
// touching.
type ports []span

// has reports whether p holds port; a short set is scanned, a long one
// searched.
func (p ports) has(port uint16) bool {
	if len(p) > 8 {
		i, _ := slices.BinarySearchFunc(p, port, func(s span, port uint16) int { return cmp.Compare(s.hi, port) })
		return i < len(p) && p[i].lo <= port
	}
	for _, s := range p {
		if port <= s.hi {
			return port >= s.lo
		}
	}
	return false
}

// union returns a new set of the ports of p and o.
func (p ports) union(o ports) ports {
	all := slices.Concat(p, o)
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	out := all[:1]
	for _, s := range all[1:] {
		last := &out[len(out)-1]
		if uint32(s.lo) <= uint32(last.hi)+1 {
			last.hi = max(last.hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return slices.Clip(out)
}
