package config

import (
	"path/filepath"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// crlProblem explains, to rep, a CRL that trust.Load or CheckRollback refused.
func (c *checker) crlProblem(rep *report, key string, e *trust.CRLError) {
	l := e.CRL
	where := l.Where()
	switch e.Err {
	case trust.ErrCRLSignature:
		rep.addf(key, "%s (issued by %q) is not signed by the CA in %s; use the CRL of that CA (tlsvpn pki crl --dir %s)",
			where, l.Issuer.String(), c.cfg.TLS.CA, filepath.Dir(c.cfg.TLS.CA))
	case trust.ErrCRLDuplicate:
		rep.addf(key, "%s is a second CRL of %q (%s is one too); keep one CRL per CA, the newest",
			where, l.Issuer.String(), e.Other.Where())
	case trust.ErrCRLRollback:
		rep.addf(key, "%s is older than the CRL of %q in force (number %v, this update %s; in force: number %v, this update %s), so it could undo a revocation; the CRL in force stays: copy the newest CRL there (tlsvpn pki crl writes one) and reload",
			where, l.Issuer.String(), l.Number, date(l.ThisUpdate), e.Other.Number, date(e.Other.ThisUpdate))
	default:
		rep.addf(key, "%v", e)
	}
}

// missingCRL reports, to rep, a trust anchor without a CRL while tls.crl is set.
func (c *checker) missingCRL(rep *report, e *trust.MissingCRLError) {
	rep.addf("tls.crl", "no CRL of the CA %q of %s is in tls.crl, and with crl set every CA needs its CRL (else its certificates are refused); use the CRL of that CA (tlsvpn pki crl --dir %s writes it)",
		e.CA.Subject.String(), e.File, filepath.Dir(e.File))
}

// warnCRLs warns about each CRL past its next update: new handshakes that need it are refused.
func (c *checker) warnCRLs(creds *trust.Credentials) {
	for _, l := range creds.CRLs() {
		if !l.Stale(c.now) {
			continue
		}
		c.warn.addf(c.crlKey(l.Source), "%s is past its next update (%s); re-sign it (tlsvpn pki crl --dir %s) and copy it to every node",
			l.Where(), date(l.NextUpdate), filepath.Dir(l.File))
	}
}
