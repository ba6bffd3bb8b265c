package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"time"
)

// Revoke revokes the current certificate of name: it records the time in
// index.json and re-signs crl.pem with its serial added. The files stay in
// place; issue --force replaces them.
func Revoke(o Options, name string) error {
	return withCurrent(o, "revoke", name, "", func(c *ca, r *record) error {
		if r.RevokedAt != nil {
			return errorf(ErrRevoked, "%s (serial %s) was revoked at %s already", name, r.Serial, r.RevokedAt.Format(time.RFC3339))
		}
		now := o.now()
		r.RevokedAt = &now
		if err := c.writeCRL(now); err != nil {
			return fmt.Errorf("%w (the revocation is recorded; run tlsvpn pki crl --dir %s)", err, o.Dir)
		}
		return nil
	})
}

// SignCRL re-signs crl.pem: the next CRL number, thisUpdate now, nextUpdate
// DefaultCRLDays later, every revoked certificate listed.
func SignCRL(o Options) error {
	c, err := openCA(o)
	if err != nil {
		return fmt.Errorf("pki crl: %w", err)
	}
	defer c.unlock()
	if err := c.writeCRL(o.now()); err != nil {
		return fmt.Errorf("pki crl: %w", err)
	}
	return nil
}

// writeCRL saves the index with the next CRL number, then signs and writes
// crl.pem. The index goes first so that a CRL never lists what the index
// forgot. Revoked certificates stay listed after they expire.
func (c *ca) writeCRL(now time.Time) error {
	c.index.CRLNumber++
	if err := c.index.save(c.dir); err != nil {
		return err
	}
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(c.index.CRLNumber),
		ThisUpdate: now,
		NextUpdate: now.AddDate(0, 0, DefaultCRLDays),
	}
	for _, r := range c.index.Certs {
		if r.RevokedAt != nil {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
				x509.RevocationListEntry{SerialNumber: r.serial(), RevocationTime: *r.RevokedAt})
		}
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
	if err != nil {
		return fmt.Errorf("sign CRL: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	return writeFile(filepath.Join(c.dir, crlFile), data, publicMode)
}
