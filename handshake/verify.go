package handshake

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
	"github.com/tlsvpn/tlsvpn/internal/netparse"
)

// minRSABits is the smallest RSA modulus accepted anywhere in a chain.
const minRSABits = 2048

// PeerPolicy is what a node knows about one configured peer.
type PeerPolicy struct {
	Name       string         // a DNS SAN the peer's certificate must carry
	AllowedIPs []netip.Prefix // must lie inside the certificate's address blocks, if it has any
}

// policy is one consistent view of credentials and peers.
type policy struct {
	creds *Credentials
	peers map[string]PeerPolicy
}

// check says what verify checks for.
type check struct {
	role x509.ExtKeyUsage // the EKU the peer needs: ClientAuth when we are the server
	want string           // when set, the only acceptable peer name (the one dialed)
	now  time.Time
	live bool // re-checking a live session: a stale CRL does not end it
}

// verified is what verify learns about an accepted peer.
type verified struct {
	peer    string
	leaf    *x509.Certificate
	expires time.Time // the earliest NotAfter of the verified chain
}

// verify checks the peer's chain and returns the matched peer. On
// refusal, v.leaf is set when the peer presented a certificate.
func (p *policy) verify(cs tls.ConnectionState, k check) (v verified, err error) {
	if cs.Version != tls.VersionTLS13 {
		return v, refuse(ReasonTLSVersion, "negotiated %s; only TLS 1.3 is accepted", tls.VersionName(cs.Version))
	}
	if cs.NegotiatedProtocol != ALPN {
		return v, refuse(ReasonALPN, "application protocol %q; %q is required", cs.NegotiatedProtocol, ALPN)
	}
	if len(cs.PeerCertificates) == 0 {
		return v, refuse(ReasonNoCertificate, "the peer sent no certificate")
	}
	v.leaf = cs.PeerCertificates[0]
	if err := checkLeaf(v.leaf, k.role); err != nil {
		return v, err
	}
	if v.expires, err = p.checkChain(cs.PeerCertificates, k.role, k.now); err != nil {
		return v, err
	}
	if err := p.checkRevocation(cs.PeerCertificates, k.now, k.live); err != nil {
		return v, err
	}
	if v.peer, err = p.match(v.leaf, k.want); err != nil {
		return v, err
	}
	return v, p.checkBlocks(v.leaf, p.peers[v.peer])
}

// checkLeaf applies the rules stricter than crypto/x509's defaults.
func checkLeaf(leaf *x509.Certificate, role x509.ExtKeyUsage) error {
	if leaf.IsCA {
		return refuse(ReasonCAAsLeaf, "certificate %q is a CA certificate; issue a node certificate", leaf.Subject.CommonName)
	}
	if !slices.Contains(leaf.ExtKeyUsage, role) {
		return refuse(ReasonWrongEKU, "certificate %q lacks extended key usage %s", leaf.Subject.CommonName, ekuName(role))
	}
	return nil
}

// checkChain verifies the chain to our CA and returns when the first
// certificate of the verified chain expires.
func (p *policy) checkChain(chain []*x509.Certificate, role x509.ExtKeyUsage, now time.Time) (time.Time, error) {
	for _, c := range chain {
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			return time.Time{}, refuse(ReasonWeakKey, "certificate %q has a %d-bit RSA key; at least %d bits are required",
				c.Subject.CommonName, k.N.BitLen(), minRSABits)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(ipblocks.MarkHandled(c))
	}
	chains, err := ipblocks.MarkHandled(chain[0]).Verify(x509.VerifyOptions{
		Roots:         p.creds.Roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{role},
	})
	if err != nil {
		return time.Time{}, classify(err, chain[0], now)
	}
	// RFC 3779 path validation: each issuer's blocks cover its subject's.
	if err := ipblocks.CheckChain(chains[0]); err != nil {
		return time.Time{}, refuse(ReasonAddressBlocks, "%v", err)
	}
	expires := chains[0][0].NotAfter
	for _, c := range chains[0][1:] {
		if c.NotAfter.Before(expires) {
			expires = c.NotAfter
		}
	}
	return expires, nil
}

func classify(err error, leaf *x509.Certificate, now time.Time) error {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ua):
		return refuse(ReasonUnknownAuthority, "%v", err)
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		if now.Before(leaf.NotBefore) {
			return refuse(ReasonNotYetValid, "certificate %q is valid from %s", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
		}
		if now.After(leaf.NotAfter) {
			return refuse(ReasonExpired, "certificate %q expired at %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
		}
		return refuse(ReasonExpired, "a certificate in the chain of %q is outside its validity: %v", leaf.Subject.CommonName, err)
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return refuse(ReasonWrongEKU, "%v", err)
	}
	return refuse(ReasonInvalid, "%v", err)
}

// checkRevocation looks the chain up in the CRL. A stale CRL refuses new
// handshakes but not live sessions.
func (p *policy) checkRevocation(chain []*x509.Certificate, now time.Time, live bool) error {
	crl := p.creds.CRL
	if crl == nil {
		return nil
	}
	if !live && !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
		return refuse(ReasonCRLStale, "the CRL's next update was %s; re-sign it (tlsvpn pki crl)", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, c := range chain {
		if at, ok := p.creds.Revoked[c.SerialNumber.String()]; ok {
			return refuse(ReasonRevoked, "certificate %q (serial %x) was revoked at %s", c.Subject.CommonName, c.SerialNumber, at.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// match finds the one configured peer named by a DNS SAN of leaf. Configured names are lower-case
// (config keeps them so); SANs are compared lower-cased, as DNS names compare without case.
func (p *policy) match(leaf *x509.Certificate, want string) (string, error) {
	var found []string
	for _, n := range leaf.DNSNames {
		n = netparse.CanonicalName(n)
		if strings.Contains(n, "*") {
			continue
		}
		if _, ok := p.peers[n]; ok && !slices.Contains(found, n) {
			found = append(found, n)
		}
	}
	switch {
	case want != "" && !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, want) }):
		return "", refuse(ReasonWrongName, "dialed %q but the certificate names %v", want, leaf.DNSNames)
	case want != "":
		if _, ok := p.peers[want]; !ok {
			return "", refuse(ReasonWrongName, "peer %q is no longer configured", want)
		}
		return want, nil
	case len(found) == 0:
		return "", refuse(ReasonWrongName, "no configured peer is named by the certificate's DNS names %v", leaf.DNSNames)
	case len(found) > 1:
		return "", refuse(ReasonAmbiguousName, "the certificate names several configured peers %v", found)
	}
	return found[0], nil
}

// checkBlocks enforces RFC 3779 address blocks: when the certificate has
// them, every allowed_ips prefix of the peer must lie inside them.
func (p *policy) checkBlocks(leaf *x509.Certificate, peer PeerPolicy) error {
	blocks, present, err := ipblocks.FromCertificate(leaf)
	if err != nil {
		return refuse(ReasonAddressBlocks, "cannot parse the address blocks of %q: %v", leaf.Subject.CommonName, err)
	}
	if !present {
		return nil
	}
	for _, a := range peer.AllowedIPs {
		if !ipblocks.Covers(blocks, a) {
			return refuse(ReasonAddressBlocks, "allowed_ips %v of peer %q are not all inside the certificate's address blocks %v",
				peer.AllowedIPs, peer.Name, blocks)
		}
	}
	return nil
}

func ekuName(e x509.ExtKeyUsage) string {
	switch e {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	}
	return "unknown"
}
