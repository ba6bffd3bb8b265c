package ipblocks

import (
	"encoding/asn1"
	"fmt"
	"net/netip"
)

// Parse decodes the DER value of an ipAddrBlocks extension into the fewest
// prefixes that cover exactly its addresses, IPv4 first, each family sorted.
// It accepts both addressPrefix and addressRange entries (any range is an
// exact union of prefixes), in any order, overlapping or not.
//
// It returns an error wrapping ErrMalformed for anything that is not DER
// IPAddrBlocks (including trailing data, a prefix longer than its family, an
// inverted range, a family given twice), ErrInherit for a family marked
// inherit, and ErrUnsupported for families other than IPv4 and IPv6 without
// SAFI. An extension with no families, or a family with no entries, yields no
// prefixes. Parse never panics and does not keep der.
func Parse(der []byte) ([]netip.Prefix, error) {
	fams, err := sequence(der)
	if err != nil {
		return nil, err
	}
	var spans [2][]span // by AFI - 1
	var seen [2]bool
	for _, f := range fams {
		afi, items, err := family(f)
		if err != nil {
			return nil, err
		}
		if seen[afi-1] {
			return nil, fmt.Errorf("%w: address family %d given twice", ErrMalformed, afi)
		}
		seen[afi-1] = true
		for _, it := range items {
			s, err := entry(it, afi)
			if err != nil {
				return nil, err
			}
			spans[afi-1] = append(spans[afi-1], s)
		}
	}
	var out []netip.Prefix
	for _, fs := range spans {
		for _, s := range mergeSpans(fs) {
			out = spanPrefixes(out, s)
			if len(out) > maxPrefixes {
				return nil, fmt.Errorf("%w: more than %d prefixes", ErrMalformed, maxPrefixes)
			}
		}
	}
	return out, nil
}

// sequence returns the elements of the single DER SEQUENCE that is all of der.
func sequence(der []byte) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if !isUniversal(seq, asn1.TagSequence, true) {
		return nil, fmt.Errorf("%w: want SEQUENCE, got tag %d", ErrMalformed, seq.Tag)
	}
	var out []asn1.RawValue
	for b := seq.Bytes; len(b) > 0; {
		var v asn1.RawValue
		if b, err = asn1.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// family decodes one IPAddressFamily into its AFI (1 or 2) and entries.
func family(f asn1.RawValue) (afi int, items []asn1.RawValue, err error) {
	parts, err := sequence(f.FullBytes)
	if err != nil {
		return 0, nil, err
	}
	if len(parts) != 2 || !isUniversal(parts[0], asn1.TagOctetString, false) {
		return 0, nil, fmt.Errorf("%w: bad IPAddressFamily", ErrMalformed)
	}
	af := parts[0].Bytes
	switch {
	case len(af) == 3:
		return 0, nil, fmt.Errorf("%w: SAFI %d", ErrUnsupported, af[2])
	case len(af) != 2:
		return 0, nil, fmt.Errorf("%w: addressFamily of %d octets", ErrMalformed, len(af))
	case af[0] != 0 || af[1] != afiIPv4 && af[1] != afiIPv6:
		return 0, nil, fmt.Errorf("%w: AFI %d", ErrUnsupported, int(af[0])<<8|int(af[1]))
	}
	choice := parts[1]
	if isUniversal(choice, asn1.TagNull, false) && len(choice.Bytes) == 0 {
		return 0, nil, ErrInherit
	}
	if !isUniversal(choice, asn1.TagSequence, true) {
		return 0, nil, fmt.Errorf("%w: bad IPAddressChoice", ErrMalformed)
	}
	items, err = sequence(choice.FullBytes)
	return int(af[1]), items, err
}

// entry decodes one IPAddressOrRange of the given AFI.
func entry(it asn1.RawValue, afi int) (span, error) {
	if isUniversal(it, asn1.TagBitString, false) {
		p, err := bitsPrefix(it, afi)
		if err != nil {
			return span{}, err
		}
		return prefixSpan(p), nil
	}
	if !isUniversal(it, asn1.TagSequence, true) {
		return span{}, fmt.Errorf("%w: bad IPAddressOrRange", ErrMalformed)
	}
	bounds, err := sequence(it.FullBytes)
	if err != nil {
		return span{}, err
	}
	if len(bounds) != 2 {
		return span{}, fmt.Errorf("%w: IPAddressRange of %d elements", ErrMalformed, len(bounds))
	}
	lo, err := bitsPrefix(bounds[0], afi)
	if err != nil {
		return span{}, err
	}
	hi, err := bitsPrefix(bounds[1], afi)
	if err != nil {
		return span{}, err
	}
	s := span{lo: lo.Addr(), hi: lastAddr(hi)}
	if s.lo.Compare(s.hi) > 0 {
		return span{}, fmt.Errorf("%w: range %s-%s is inverted", ErrMalformed, s.lo, s.hi)
	}
	return s, nil
}

// bitsPrefix decodes a BIT STRING as the prefix made of its bits: an
// addressPrefix, or a range bound (the minimum is the prefix's first address,
// the maximum its last).
func bitsPrefix(v asn1.RawValue, afi int) (netip.Prefix, error) {
	if !isUniversal(v, asn1.TagBitString, false) {
		return netip.Prefix{}, fmt.Errorf("%w: want BIT STRING, got tag %d", ErrMalformed, v.Tag)
	}
	var bs asn1.BitString
	if _, err := asn1.Unmarshal(v.FullBytes, &bs); err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	size := 4
	if afi == afiIPv6 {
		size = 16
	}
	if bs.BitLength > size*8 || len(bs.Bytes) != (bs.BitLength+7)/8 {
		return netip.Prefix{}, fmt.Errorf("%w: %d-bit address in AFI %d", ErrMalformed, bs.BitLength, afi)
	}
	b := make([]byte, size)
	copy(b, bs.Bytes)
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, bs.BitLength), nil
}

// isUniversal reports whether v has the given universal tag and form.
func isUniversal(v asn1.RawValue, tag int, compound bool) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag && v.IsCompound == compound
}
