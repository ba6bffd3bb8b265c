package ipblocks

import (
	"net/netip"
	"slices"
)

// span is an inclusive range of addresses of one family, lo <= hi.
type span struct{ lo, hi netip.Addr }

// prefixSpan returns the addresses of p, whose host bits must be zero.
func prefixSpan(p netip.Prefix) span {
	return span{lo: p.Addr(), hi: lastAddr(p)}
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		switch first := i * 8; {
		case first >= p.Bits():
			b[i] = 0xff
		case first+8 > p.Bits():
			b[i] |= 0xff >> (p.Bits() - first)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// mergeSpans sorts spans and joins those that overlap or touch, returning a
// sorted list of disjoint, non-adjacent spans. It reorders its argument.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.lo.Compare(b.lo) })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 && touches(out[n-1], s) {
			if s.hi.Compare(out[n-1].hi) > 0 {
				out[n-1].hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// touches reports whether s, which starts at or after cur, overlaps cur or
// starts right after it.
func touches(cur, s span) bool {
	return s.lo.Compare(cur.hi) <= 0 || s.lo == cur.hi.Next()
}

// spanPrefixes appends to dst the fewest prefixes whose union is exactly s,
// in ascending order.
func spanPrefixes(dst []netip.Prefix, s span) []netip.Prefix {
	lo := s.lo
	for {
		bits := lo.BitLen()
		for bits > 0 {
			wider := netip.PrefixFrom(lo, bits-1).Masked()
			if wider.Addr() != lo || lastAddr(wider).Compare(s.hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		dst = append(dst, p)
		last := lastAddr(p)
		if last.Compare(s.hi) >= 0 {
			return dst
		}
		lo = last.Next()
	}
}

// singlePrefix reports whether s is exactly one prefix, and which.
func singlePrefix(s span) (netip.Prefix, bool) {
	p := spanPrefixes(nil, s)
	return p[0], len(p) == 1
}

// Covers reports whether every address of p lies inside blocks (inside their
// union: a prefix split across two adjacent blocks is covered). Addresses of
// the other family never cover p. Host bits of p are ignored.
func Covers(blocks []netip.Prefix, p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	want := prefixSpan(p.Masked())
	var spans []span
	for _, b := range blocks {
		if b.IsValid() && b.Addr().Is4() == want.lo.Is4() {
			spans = append(spans, prefixSpan(b.Masked()))
		}
	}
	for _, s := range mergeSpans(spans) {
		if s.lo.Compare(want.lo) <= 0 && s.hi.Compare(want.hi) >= 0 {
			return true
		}
	}
	return false
}
