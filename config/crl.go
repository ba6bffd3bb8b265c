package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
)

// loadCRL reads and parses one file of tls.crl. A PEM "X509 CRL" block is expected; a DER file is accepted.
func (c *checker) loadCRL(path string) *x509.RevocationList {
	data, ok := c.read("tls.crl", path)
	if !ok {
		return nil
	}
	der := data
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "X509 CRL" {
			c.errs.addf("tls.crl", "%s holds a %s, not an X509 CRL; point tls.crl at the CRL (tlsvpn pki crl writes crl.pem)", path, block.Type)
			return nil
		}
		der = block.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		c.errs.addf("tls.crl", "%s is not a valid CRL (%s); re-create it: tlsvpn pki crl --dir %s", path, reason(err), filepath.Dir(path))
		return nil
	}
	return crl
}

// checkCRLSigner refuses a CRL that no CA of tls.ca signed; it reports whether one did.
func (c *checker) checkCRLSigner(crl *x509.RevocationList, path string, roots []*x509.Certificate) bool {
	for _, ca := range roots {
		if crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	c.errs.addf("tls.crl", "%s (issued by %q) is not signed by the CA in %s; use the CRL of that CA (tlsvpn pki crl --dir %s)",
		path, crl.Issuer.String(), c.cfg.TLS.CA, filepath.Dir(c.cfg.TLS.CA))
	return false
}

// checkRevoked refuses an own certificate that the CRL revokes: peers would refuse it.
func (c *checker) checkRevoked(leaf *x509.Certificate, crl *x509.RevocationList, path string) {
	for _, entry := range crl.RevokedCertificateEntries {
		if entry.SerialNumber != nil && entry.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			c.errs.addf("tls.cert", "%s (serial %s) is revoked by %s since %s; issue a new certificate (tlsvpn pki issue %s --force)",
				c.cfg.TLS.Cert, serial(leaf), path, date(entry.RevocationTime), c.name())
			return
		}
	}
}

func serial(cert *x509.Certificate) string {
	return fmt.Sprintf("%x", cert.SerialNumber)
}

// warnCRL warns about a CRL past its next update.
func (c *checker) warnCRL(crl *x509.RevocationList, path string) {
	if crl == nil || crl.NextUpdate.IsZero() || !c.now.After(crl.NextUpdate) {
		return
	}
	c.warn.addf("tls.crl", "%s is past its next update (%s); re-sign it (tlsvpn pki crl --dir %s) and copy it to every node",
		path, date(crl.NextUpdate), filepath.Dir(path))
}
