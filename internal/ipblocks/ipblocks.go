// Package ipblocks encodes and decodes the RFC 3779 IP address delegation
// extension (id-pe-ipAddrBlocks), which tlsvpn uses to write into a node's
// certificate the address prefixes that node may announce.
//
// The extension is written critical, as RFC 3779 section 2.2.1 asks. Go's
// crypto/x509 does not know it, so it lists the extension in
// UnhandledCriticalExtensions and x509.Certificate.Verify refuses every
// certificate that carries it, CA certificates included. A verifier that has
// checked the extension itself passes each certificate through MarkHandled
// before Verify (and before adding a CA to an x509.CertPool), and calls
// CheckChain on the verified chain.
//
// Every function here is pure: safe for concurrent use, no shared state.
package ipblocks

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// OID is id-pe-ipAddrBlocks (RFC 3779 section 2.2.1): 1.3.6.1.5.5.7.1.7.
var OID = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 7}

// Address Family Identifiers (IANA "Address Family Numbers"), written as the
// two-octet addressFamily of an IPAddressFamily (RFC 3779 section 2.2.3.3).
const (
	afiIPv4 = 1
	afiIPv6 = 2
)

// maxPrefixes bounds the prefixes Parse returns, so that a hostile extension
// of many unaligned ranges cannot make it allocate without limit.
const maxPrefixes = 1 << 14

var (
	// ErrMalformed reports DER that is not a valid IPAddrBlocks value.
	ErrMalformed = errors.New("malformed ipAddrBlocks")
	// ErrInherit reports an address family marked "inherit": its addresses are
	// those of the issuer, which a single certificate cannot tell.
	ErrInherit = errors.New("ipAddrBlocks family uses inherit")
	// ErrUnsupported reports an address family other than plain IPv4 or IPv6
	// (another AFI, or an AFI with a SAFI).
	ErrUnsupported = errors.New("unsupported ipAddrBlocks address family")
)

// FromCertificate decodes the ipAddrBlocks extension of c. present is false,
// with a nil error, when c has no such extension.
func FromCertificate(c *x509.Certificate) (prefixes []netip.Prefix, present bool, err error) {
	for _, e := range c.Extensions {
		if !e.Id.Equal(OID) {
			continue
		}
		p, err := Parse(e.Value)
		if err != nil {
			return nil, true, fmt.Errorf("certificate %q: %w", c.Subject.CommonName, err)
		}
		return p, true, nil
	}
	return nil, false, nil
}

// MarkHandled returns c, or when c lists a well-formed ipAddrBlocks extension
// in UnhandledCriticalExtensions, a shallow copy of c without that entry, so
// that x509.Certificate.Verify accepts it. A malformed extension stays listed
// and so still makes Verify fail. c itself is never modified: crypto/tls
// shares parsed certificates between connections.
func MarkHandled(c *x509.Certificate) *x509.Certificate {
	i := slices.IndexFunc(c.UnhandledCriticalExtensions, OID.Equal)
	if i < 0 {
		return c
	}
	if _, _, err := FromCertificate(c); err != nil {
		return c
	}
	cp := *c
	cp.UnhandledCriticalExtensions = slices.Delete(slices.Clone(c.UnhandledCriticalExtensions), i, i+1)
	return &cp
}

// CheckChain applies RFC 3779 path validation (section 2.3) to a verified
// chain, leaf first and trust anchor last: when the leaf carries ipAddrBlocks,
// every certificate above it must carry the extension too, and cover the
// addresses of the certificate below. A chain whose leaf lacks the extension
// passes. The error names the offending certificate.
func CheckChain(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return nil
	}
	child, present, err := FromCertificate(chain[0])
	if err != nil || !present {
		return err
	}
	for _, parent := range chain[1:] {
		blocks, present, err := FromCertificate(parent)
		if err != nil {
			return err
		}
		if !present {
			return fmt.Errorf("issuer %q has no ipAddrBlocks but the certificate it signed does", parent.Subject.CommonName)
		}
		for _, p := range child {
			if !Covers(blocks, p) {
				return fmt.Errorf("issuer %q does not delegate %s", parent.Subject.CommonName, p)
			}
		}
		child = blocks
	}
	return nil
}
