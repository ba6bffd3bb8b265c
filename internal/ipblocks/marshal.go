package ipblocks

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
)

// ipAddressFamily is IPAddressFamily (RFC 3779 section 2.2.3.2) with the
// addressesOrRanges choice; Marshal never writes the inherit choice.
type ipAddressFamily struct {
	AddressFamily []byte
	Items         []asn1.RawValue // each an addressPrefix or an addressRange
}

// ipAddressRange is IPAddressRange (RFC 3779 section 2.2.3.9).
type ipAddressRange struct {
	Min, Max asn1.BitString
}

// Marshal encodes prefixes as the DER value of an ipAddrBlocks extension:
// an IPv4 family (AFI 1) and an IPv6 family (AFI 2), each only when it has
// addresses, in the canonical form of RFC 3779 section 2.2.3.6. Prefixes are
// sorted and duplicates dropped; prefixes that overlap or touch are joined,
// and a joined run is written as one addressPrefix when it is exactly a
// prefix and otherwise as an addressRange (OpenSSL refuses touching entries
// as non-canonical). Parse(Marshal(p)) gives the same addresses as p.
//
// It fails when prefixes is empty or holds an invalid prefix or one with host
// bits set.
func Marshal(prefixes []netip.Prefix) ([]byte, error) {
	if len(prefixes) == 0 {
		return nil, errors.New("encode ipAddrBlocks: no prefixes")
	}
	var v4, v6 []span
	for _, p := range prefixes {
		if !p.IsValid() {
			return nil, fmt.Errorf("encode ipAddrBlocks: invalid prefix %v", p)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("encode ipAddrBlocks: %s has host bits set (did you mean %s?)", p, p.Masked())
		}
		if p.Addr().Is4() {
			v4 = append(v4, prefixSpan(p))
		} else {
			v6 = append(v6, prefixSpan(p))
		}
	}
	var fams []ipAddressFamily
	for _, f := range []struct {
		afi   byte
		spans []span
	}{{afiIPv4, v4}, {afiIPv6, v6}} {
		if len(f.spans) == 0 {
			continue
		}
		items, err := encodeSpans(mergeSpans(f.spans))
		if err != nil {
			return nil, err
		}
		fams = append(fams, ipAddressFamily{AddressFamily: []byte{0, f.afi}, Items: items})
	}
	der, err := asn1.Marshal(fams)
	if err != nil {
		return nil, fmt.Errorf("encode ipAddrBlocks: %w", err)
	}
	return der, nil
}

// encodeSpans encodes sorted, disjoint, non-adjacent spans as
// IPAddressOrRange values.
func encodeSpans(spans []span) ([]asn1.RawValue, error) {
	items := make([]asn1.RawValue, 0, len(spans))
	for _, s := range spans {
		var v any
		if p, ok := singlePrefix(s); ok {
			v = prefixBits(p)
		} else {
			v = ipAddressRange{Min: trimBits(s.lo, 0), Max: trimBits(s.hi, 1)}
		}
		der, err := asn1.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode ipAddrBlocks: %w", err)
		}
		items = append(items, asn1.RawValue{FullBytes: der})
	}
	return items, nil
}

// prefixBits encodes p as an addressPrefix: its first p.Bits() bits.
func prefixBits(p netip.Prefix) asn1.BitString {
	b := p.Addr().AsSlice()
	return asn1.BitString{Bytes: b[:(p.Bits()+7)/8], BitLength: p.Bits()}
}

// trimBits encodes a as a range bound: its bits without the trailing run of
// bits equal to fill (zeros for a minimum, ones for a maximum), with the
// unused bits of the last octet zero as DER requires.
func trimBits(a netip.Addr, fill byte) asn1.BitString {
	b := a.AsSlice()
	n := len(b) * 8
	for n > 0 && bitAt(b, n-1) == fill {
		n--
	}
	b = b[:(n+7)/8]
	if n%8 != 0 {
		b[len(b)-1] &= 0xff << (8 - n%8)
	}
	return asn1.BitString{Bytes: b, BitLength: n}
}

// bitAt returns bit i of b, counting from the most significant bit of b[0].
func bitAt(b []byte, i int) byte {
	return b[i/8] >> (7 - i%8) & 1
}
