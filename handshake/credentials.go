package handshake

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Credentials are a node's trust anchors, own certificate and revocation
// list. They are immutable once loaded; a reload loads new ones.
type Credentials struct {
	Cert  tls.Certificate     // own leaf (Leaf parsed) and intermediates
	Roots *x509.CertPool      // trust anchors, critical extensions we handle stripped
	CAs   []*x509.Certificate // the same anchors, for CRL signatures
	CRL   *x509.RevocationList
	// Revoked holds the CRL's serial numbers as decimal strings.
	Revoked map[string]time.Time
}

// LoadCredentials reads the CA bundle, the certificate (leaf then
// intermediates), its key and the CRL of each non-empty crlFiles, which
// must be signed by one of the CAs.
func LoadCredentials(caFile, certFile, keyFile string, crlFiles ...string) (*Credentials, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s with key %s: %w", certFile, keyFile, err)
	}
	cas, err := readCerts(caFile)
	if err != nil {
		return nil, err
	}
	c := NewCredentials(cert, cas)
	for _, crlFile := range crlFiles {
		if crlFile == "" {
			continue
		}
		if err := c.loadCRL(crlFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// NewCredentials returns credentials presenting cert and trusting cas,
// without a CRL.
func NewCredentials(cert tls.Certificate, cas []*x509.Certificate) *Credentials {
	c := &Credentials{Cert: cert, Roots: x509.NewCertPool(), CAs: cas}
	for _, ca := range cas {
		c.Roots.AddCert(ipblocks.MarkHandled(ca))
	}
	return c
}

func readCerts(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse CA certificate in %s: %w", file, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate found", file)
	}
	return certs, nil
}

func (c *Credentials) loadCRL(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read CRL: %w", err)
	}
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return fmt.Errorf("parse CRL %s: %w", file, err)
	}
	signed := false
	for _, ca := range c.CAs {
		if crl.CheckSignatureFrom(ca) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return fmt.Errorf("CRL %s is not signed by a CA of the ca file; re-sign it with that CA", file)
	}
	c.CRL = crl
	if c.Revoked == nil {
		c.Revoked = make(map[string]time.Time, len(crl.RevokedCertificateEntries))
	}
	for _, e := range crl.RevokedCertificateEntries {
		c.Revoked[e.SerialNumber.String()] = e.RevocationTime
	}
	return nil
}
