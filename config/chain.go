package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// dateFormat is how dates appear in messages.
const dateFormat = "2006-01-02 15:04 UTC"

func date(t time.Time) string { return t.UTC().Format(dateFormat) }

// checkValidity refuses an own certificate that is expired or not yet valid.
func (c *checker) checkValidity(leaf *x509.Certificate) {
	switch {
	case c.now.After(leaf.NotAfter):
		c.errs.addf("tls.cert", "%s expired on %s; renew it: tlsvpn pki renew %s --dir %s",
			c.cfg.TLS.Cert, date(leaf.NotAfter), c.name(), filepath.Dir(c.cfg.TLS.Cert))
	case c.now.Before(leaf.NotBefore):
		c.errs.addf("tls.cert", "%s is not valid before %s (now is %s); check this host's clock, or wait",
			c.cfg.TLS.Cert, date(leaf.NotBefore), date(c.now))
	}
}

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
	eku  x509.ExtKeyUsage
	name string
	why  string
}

// roles lists the extended key usages the node's configuration needs.
func (c *checker) roles() []role {
	var out []role
	if c.cfg.Listens() {
		out = append(out, role{x509.ExtKeyUsageServerAuth, "serverAuth", "it listens ([listen])"})
	}
	if c.cfg.Dials() {
		out = append(out, role{x509.ExtKeyUsageClientAuth, "clientAuth", "it dials peers (endpoint)"})
	}
	return out
}

// checkEKU refuses an own certificate that does not list the extended key usage of each role the node
// plays; anyExtendedKeyUsage alone does not count, nor does a certificate without the extension.
func (c *checker) checkEKU(leaf *x509.Certificate) {
	for _, r := range c.roles() {
		if slices.Contains(leaf.ExtKeyUsage, r.eku) {
			continue
		}
		note := ""
		if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			note = " (anyExtendedKeyUsage is not enough)"
		}
		c.errs.addf("tls.cert", "%s lacks the extended key usage %s%s, which this node needs because %s; issue a certificate with serverAuth and clientAuth (tlsvpn pki issue does)",
			c.cfg.TLS.Cert, r.name, note, r.why)
	}
}

// checkChain verifies that the own certificate chains to a CA of tls.ca, with the intermediates that
// follow it in tls.cert. Verification runs at a moment the leaf is valid, so an expired certificate is
// reported once, as expired, and a wrong CA still shows. Then the chain is checked again for the roles'
// usages, which intermediates may restrict.
func (c *checker) checkChain(chain, roots []*x509.Certificate) {
	opts := x509.VerifyOptions{
		Roots:         x509.NewCertPool(),
		Intermediates: x509.NewCertPool(),
		CurrentTime:   c.verifyTime(chain[0]),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	for _, r := range roots {
		opts.Roots.AddCert(r)
	}
	for _, i := range chain[1:] {
		opts.Intermediates.AddCert(i)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		c.chainProblem(chain[0], roots, err)
		return
	}
	for _, r := range c.roles() {
		if !slices.Contains(chain[0].ExtKeyUsage, r.eku) {
			continue // checkEKU reported it
		}
		opts.KeyUsages = []x509.ExtKeyUsage{r.eku}
		if _, err := chain[0].Verify(opts); err != nil {
			c.errs.addf("tls.cert", "an intermediate CA in %s does not allow %s, which this node needs because %s; issue the certificate from a CA that allows it",
				c.cfg.TLS.Cert, r.name, r.why)
		}
	}
}

// verifyTime is now, or the nearest moment at which leaf is valid.
func (c *checker) verifyTime(leaf *x509.Certificate) time.Time {
	switch {
	case c.now.Before(leaf.NotBefore):
		return leaf.NotBefore
	case c.now.After(leaf.NotAfter):
		return leaf.NotAfter
	}
	return c.now
}

// chainProblem explains a failed chain verification.
func (c *checker) chainProblem(leaf *x509.Certificate, roots []*x509.Certificate, err error) {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		c.errs.addf("tls.cert", "%s (issued by %q) does not chain to the CA in %s (%s); point tls.ca at the CA that issued it, append a missing intermediate CA to the cert file, or issue the certificate from this CA (tlsvpn pki issue %s)",
			c.cfg.TLS.Cert, leaf.Issuer.String(), c.cfg.TLS.CA, subjects(roots), c.name())
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && invalid.Cert != leaf:
		key := "tls.cert"
		if slices.Contains(roots, invalid.Cert) {
			key = "tls.ca"
		}
		c.errs.addf(key, "the CA certificate %q is expired or not yet valid (valid %s to %s), so the chain of %s does not verify; renew that CA and re-issue",
			invalid.Cert.Subject.String(), date(invalid.Cert.NotBefore), date(invalid.Cert.NotAfter), c.cfg.TLS.Cert)
	default:
		c.errs.addf("tls.cert", "%s does not chain to the CA in %s: %v; issue the certificate from that CA (tlsvpn pki issue %s)",
			c.cfg.TLS.Cert, c.cfg.TLS.CA, err, c.name())
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
