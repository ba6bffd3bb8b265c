package config

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// dateFormat is how dates appear in messages.
const dateFormat = "2006-01-02 15:04 UTC"

func date(t time.Time) string { return t.UTC().Format(dateFormat) }

// checkName refuses a node name that is not a DNS SAN of the own certificate.
func (c *checker) checkName(leaf *x509.Certificate) {
	if c.cfg.Name == "" {
		return
	}
	if slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, c.cfg.Name) }) {
		return
	}
	has := "has no DNS names"
	if len(leaf.DNSNames) > 0 {
		has = "names " + strings.Join(leaf.DNSNames, ", ")
	}
	c.errs.addf("name", "%q is not a DNS name of %s, which %s; set name to the certificate's name, or issue one for %q (tlsvpn pki issue %s)",
		c.cfg.Name, c.cfg.TLS.Cert, has, c.cfg.Name, c.cfg.Name)
}

// role is an extended key usage the node needs, and why.
type role struct {
	eku x509.ExtKeyUsage
	why string
}

// roles lists the extended key usages the node's configuration needs.
func (c *checker) roles() []role {
	var out []role
	if c.cfg.Listens() {
		out = append(out, role{x509.ExtKeyUsageServerAuth, "it listens ([listen])"})
	}
	if c.cfg.Dials() {
		out = append(out, role{x509.ExtKeyUsageClientAuth, "it dials peers (endpoint)"})
	}
	return out
}

// why says why the node needs the usage u.
func (c *checker) why(u x509.ExtKeyUsage) string {
	for _, r := range c.roles() {
		if r.eku == u {
			return r.why
		}
	}
	return "of its role"
}

// checkOwn applies to the node's own certificate the rules its peers apply (trust.Credentials.Audit,
// for every role the node plays), and checks that the interface addresses lie inside the certificate's
// address blocks, if it has any. A stale CRL is a warning here (warnCRLs), not an error; so is, at a
// reload that keeps the certificate chain in force, that chain being revoked or expired (Loader.InForce).
func (c *checker) checkOwn(creds *trust.Credentials) {
	k := trust.Check{Set: trust.Peers, Now: c.now, Live: true}
	for _, r := range c.roles() {
		k.Usages = append(k.Usages, r.eku)
	}
	v, found := creds.Audit(creds.Chain(), k)
	kept := c.keptInForce(creds)
	for _, r := range found {
		if r.Reason == trust.ReasonCRLUnavailable {
			continue // reported at tls.crl by loadProblem
		}
		key, msg := c.ownRefused(r, creds.Anchors(trust.Peers))
		switch {
		case kept && (r.Reason == trust.ReasonRevoked || r.Reason == trust.ReasonExpired):
			c.warn.addf(key, "%s. The node keeps this certificate in force and applies the rest of the reload, but peers refuse its new connections", msg)
		default:
			c.errs.addf(key, "%s", msg)
		}
	}
	if v.Chain == nil || !v.HasBlocks {
		return
	}
	for i, a := range c.cfg.Interface.Addresses {
		if !v.Covers(netip.PrefixFrom(a.Addr(), a.Addr().BitLen())) {
			c.errs.addf(fmt.Sprintf("interface.address[%d]", i), "%s is outside the address blocks %v of %s; use an address inside them or issue the certificate with --route covering it",
				a.Addr(), v.Blocks, c.cfg.TLS.Cert)
		}
	}
}

// keptInForce reports whether this is a reload whose own certificate chain is the one in force.
func (c *checker) keptInForce(creds *trust.Credentials) bool {
	return c.inForce != nil && slices.EqualFunc(c.inForce.Certificate().Certificate, creds.Certificate().Certificate, bytes.Equal)
}

// ownRefused says what rule the own certificate breaks, at the key of the file to fix, with the fix.
func (c *checker) ownRefused(r *trust.Refusal, anchors []*x509.Certificate) (key, msg string) {
	cert, ca := c.cfg.TLS.Cert, c.cfg.TLS.CA
	key = "tls.cert"
	if r.Anchor {
		key = "tls.ca"
	}
	f := func(format string, args ...any) (string, string) { return key, fmt.Sprintf(format, args...) }
	switch {
	case r.Reason == trust.ReasonExpired && r.Depth == 0:
		return f("%s expired on %s; renew it: tlsvpn pki renew %s --dir %s",
			cert, date(r.Cert.NotAfter), c.name(), filepath.Dir(cert))
	case r.Reason == trust.ReasonNotYetValid && r.Depth == 0:
		return f("%s is not valid before %s (now is %s); check this host's clock, or wait",
			cert, date(r.Cert.NotBefore), date(c.now))
	case r.Reason == trust.ReasonExpired || r.Reason == trust.ReasonNotYetValid:
		return f("the CA certificate %q is expired or not yet valid (valid %s to %s), so the chain of %s does not verify; renew that CA and re-issue",
			r.Cert.Subject.String(), date(r.Cert.NotBefore), date(r.Cert.NotAfter), cert)
	case r.Reason == trust.ReasonUnknownAuthority:
		return f("%s (issued by %q) does not chain to the CA in %s (%s); point tls.ca at the CA that issued it, append a missing intermediate CA to the cert file, or issue the certificate from this CA (tlsvpn pki issue %s)",
			cert, r.Cert.Issuer.String(), ca, subjects(anchors), c.name())
	case r.Reason == trust.ReasonWrongEKU && r.Depth == 0:
		note := ""
		if slices.Contains(r.Cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
			note = " (anyExtendedKeyUsage is not enough)"
		}
		return f("%s lacks the extended key usage %s%s, which this node needs because %s; issue a certificate with serverAuth and clientAuth (tlsvpn pki issue does)",
			cert, trust.UsageName(r.Usage), note, c.why(r.Usage))
	case r.Reason == trust.ReasonWrongEKU:
		return f("the CA %q above %s does not allow %s, which this node needs because %s; issue the certificate from a CA that allows it",
			r.Cert.Subject.String(), cert, trust.UsageName(r.Usage), c.why(r.Usage))
	case r.Reason == trust.ReasonRevoked && r.Depth == 0:
		return f("%s (serial %x) is revoked by %s since %s; issue a new certificate (tlsvpn pki issue %s --force)",
			cert, r.Cert.SerialNumber, r.CRL.Where(), date(r.At), c.name())
	case r.Reason == trust.ReasonRevoked:
		return f("the intermediate CA %q in %s is revoked by %s since %s, so peers refuse the certificate; issue it from a CA that is not revoked",
			r.Cert.Subject.String(), cert, r.CRL.Where(), date(r.At))
	case r.Reason == trust.ReasonNoCRL:
		return "tls.crl", fmt.Sprintf("no CRL of %q, the CA that issued %s, is in tls.crl, and with crl set a certificate whose issuer has no CRL is refused; add that CA's CRL to tls.crl",
			r.Issuer.Subject.String(), cert)
	case r.Reason == trust.ReasonCAAsLeaf:
		return f("%s is a CA certificate, which peers refuse as a node's; issue a node certificate (tlsvpn pki issue %s)", cert, c.name())
	case r.Reason == trust.ReasonWeakKey:
		return f("%s; peers refuse it: issue a certificate with an ECDSA key or RSA of 2048 bits or more (tlsvpn pki issue %s makes ECDSA P-256)",
			r.Detail, c.name())
	case r.Reason == trust.ReasonAddressBlocks:
		return f("%s; issue the certificate from a CA whose address blocks cover it", r.Detail)
	default:
		return f("%s does not chain to the CA in %s: %s; issue the certificate from that CA (tlsvpn pki issue %s)",
			cert, ca, r.Detail, c.name())
	}
}

// subjects names certificates for messages.
func subjects(certs []*x509.Certificate) string {
	names := make([]string, len(certs))
	for i, cert := range certs {
		names[i] = fmt.Sprintf("%q", cert.Subject.String())
	}
	return strings.Join(names, ", ")
}
