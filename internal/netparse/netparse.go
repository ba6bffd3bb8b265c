// Package netparse reads the network values people write in a configuration file or on the command
// line — node names and address prefixes — and says, when one is wrong, what is wrong and how to
// write it instead. The config and pki packages and the ACL rule parser share these rules, so that a
// name `tlsvpn pki issue` accepts is a name the configuration accepts, and the other way round.
//
// Names are DNS names (RFC 1123 host names), which compare without regard to case: callers that
// compare names lower-case them first (CanonicalName). All functions are pure and safe for
// concurrent use.
package netparse

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxNameLen is the longest DNS name in text form, without the trailing dot (RFC 1035).
const MaxNameLen = 253

// maxLabelLen is the longest label of a DNS name (RFC 1035).
const maxLabelLen = 63

// DNSName says why name is not a DNS host name — labels of letters, digits and '-' (not first or
// last) separated by dots, 1 to 63 characters each, at most 253 in all, no trailing dot — or returns
// nil. Upper- and lower-case letters are both accepted. The error text is the bare reason, for
// callers that add their own context ("character '_' is not allowed").
func DNSName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("longer than %d characters", MaxNameLen)
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return fmt.Errorf("empty label")
		case len(label) > maxLabelLen:
			return fmt.Errorf("label %q is longer than %d characters", label, maxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return fmt.Errorf("character %q is not allowed", rune(c))
			}
		}
	}
	return nil
}

// NodeName checks a node's name: the DNS SAN that identifies it in its certificate. Besides being a
// DNS name (DNSName) it has no wildcard, no trailing dot, and is not an IP address. The error says
// how to write it.
func NodeName(name string) error {
	switch {
	case strings.Contains(name, "*"):
		return fmt.Errorf("%q has a wildcard; a name identifies one certificate: write the exact DNS name", name)
	case name != "." && strings.HasSuffix(name, "."):
		return fmt.Errorf("%q ends with a dot; write it without: %q", name, strings.TrimSuffix(name, "."))
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("%q is an IP address; write the DNS name of the certificate (its DNS SAN)", name)
	}
	if err := DNSName(name); err != nil {
		return fmt.Errorf("%q is not a valid DNS name: %v; use letters, digits, '-' and '.', like \"office-b\"", name, err)
	}
	return nil
}

// CanonicalName returns the form in which names are compared and stored: lower case (DNS names
// compare without regard to case, RFC 4343).
func CanonicalName(name string) string {
	return strings.ToLower(name)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Prefix parses an address prefix ("10.2.0.0/24", "fd02::/64"). With hostBits, bits beyond the
// prefix length may be set (an interface address, "100.64.0.1/24"); without, they are an error whose
// fix is the masked prefix. example is a correct value to show in the fix. The address is returned
// as written (an IPv4-mapped IPv6 address stays IPv6).
func Prefix(s string, hostBits bool, example string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if !strings.Contains(s, "/") && !hostBits {
			if a, err := netip.ParseAddr(s); err == nil {
				return netip.Prefix{}, fmt.Errorf("%q has no prefix length; write %q for this one address", s,
					netip.PrefixFrom(a, a.BitLen()).String())
			}
		}
		return netip.Prefix{}, fmt.Errorf("%q is not an IP prefix (%s); write an address and a length, like %q",
			s, Reason(err), example)
	}
	if !hostBits && p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("host bits set in %s; write %s (or %s for that one address)",
			p, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	return p, nil
}

// Reason strips the function-call prefix that net and netip put in front of their error messages
// (`netip.ParsePrefix("x"): no '/'` becomes `no '/'`).
func Reason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
